from textkit.slug import slugify


def test_accents():
    assert slugify("Crème Brûlée") == "creme-brulee"


def test_punctuation_collapses():
    assert slugify("Hello, World!  Again") == "hello-world-again"


def test_no_edge_dashes():
    assert slugify("  --Déjà vu--  ") == "deja-vu"


def test_digits_kept():
    assert slugify("Top 10 Tips") == "top-10-tips"
