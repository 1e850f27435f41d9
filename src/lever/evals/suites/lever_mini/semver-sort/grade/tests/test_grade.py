from pkgtools.versions import sort_versions


def test_numeric():
    assert sort_versions(["1.10.0", "1.9.2", "1.2.10", "1.2.9"]) == [
        "1.2.9", "1.2.10", "1.9.2", "1.10.0"]


def test_prerelease():
    assert sort_versions(["2.0.0", "2.0.0-rc2", "1.0.0", "2.0.0-rc1"]) == [
        "1.0.0", "2.0.0-rc1", "2.0.0-rc2", "2.0.0"]
