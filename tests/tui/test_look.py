"""Light and dark themes, NO_COLOR, and the app with the keyboard alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color
from textual.widgets._collapsible import CollapsibleTitle

from lever.tui.cells import CommandCell

from .conftest import screen_segments, screen_text, type_text, wait_for

TURN = [{"text": "Hello **there**."}]


def _luminance(color: Color | None) -> float:
    assert color is not None
    red, green, blue = color.get_truecolor()
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def background_luminance(app) -> float:
    """The mean luminance of the backgrounds of the screen's text."""
    colors = [s.style.bgcolor for s in screen_segments(app) if s.style and s.style.bgcolor]
    assert colors, "nothing on screen has a background colour"
    return sum(_luminance(color) for color in colors) / len(colors)


@pytest.mark.parametrize(("flags", "dark"), [({}, True), ({"theme": "light"}, False)])
async def test_dark_by_default_light_by_flag(
    make_app, monkeypatch: pytest.MonkeyPatch, flags: dict, dark: bool
) -> None:
    monkeypatch.delenv("COLORFGBG", raising=False)
    app, _ = make_app(TURN, prompt="hi", **flags)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.turns_shown == 1)
        assert app.current_theme.dark is dark
        luminance = background_luminance(app)
        assert (luminance < 0.3) if dark else (luminance > 0.7), luminance
        assert "Hello there." in screen_text(app)


async def test_light_from_config_and_from_the_terminal(
    make_app, lever_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLORFGBG", "0;15")  # black on white, as rxvt and Konsole say it
    app, _ = make_app(TURN)
    async with app.run_test(size=(80, 24)):
        assert app.theme == "textual-light"
    monkeypatch.delenv("COLORFGBG")
    (lever_home / "config.toml").write_text('[tui]\ntheme = "solarized-light"\n')
    app, _ = make_app(TURN)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "solarized-light" and not app.current_theme.dark
        assert background_luminance(app) > 0.7
        await wait_for(pilot, lambda: app.session is not None)
    app, _ = make_app(TURN, theme="neon")  # the flag wins over the configuration
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "unknown theme 'neon'" in screen_text(app))
        assert app.theme == "textual-dark"


def colored_text(app) -> list[str]:
    """The text on screen drawn in a colour other than the terminal's default."""
    return [
        segment.text
        for segment in screen_segments(app)
        if segment.style
        and any(
            color is not None and not color.is_default
            for color in (segment.style.color, segment.style.bgcolor)
        )
    ]


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "NO_COLOR"])
async def test_no_color_leaves_no_colour_on_screen(
    make_app, monkeypatch: pytest.MonkeyPatch, no_color: bool
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    turns = [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "exit 3"}}]},
        {"text": "It **failed**."},
    ]
    app, _ = make_app(turns, prompt="run it")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.turns_shown == 1)
        assert "✗ exit 3" in screen_text(app)
        if not no_color:
            assert colored_text(app)  # the check can see colour where there is some
            return
        assert colored_text(app) == []
        assert any(s.style and s.style.bold for s in screen_segments(app))  # emphasis stays


async def test_the_keyboard_alone_reaches_everything(make_app) -> None:
    command = "for i in $(seq 1 30); do echo line-$i; done"
    turns = [
        {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]},
        {"text": "\n\n".join(f"Paragraph {n}." for n in range(30))},
        {"text": "Second answer."},
    ]
    app, _ = make_app(turns, prompt="count")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.turns_shown == 1)
        transcript = app.transcript
        # Page up and down through a transcript longer than the screen.
        await wait_for(pilot, lambda: 0 < transcript.max_scroll_y == transcript.scroll_y)
        bottom = transcript.scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert transcript.scroll_y < bottom
        await pilot.press("pagedown", "pagedown", "pagedown")
        await pilot.pause()
        assert transcript.scroll_y == transcript.max_scroll_y
        # Shift+Tab leaves the composer for the folded command; Enter unfolds it.
        (cell,) = [c for c in transcript.children if isinstance(c, CommandCell)]
        assert cell.collapsed
        await pilot.press("shift+tab")
        assert isinstance(app.focused, CollapsibleTitle) and app.focused.parent is cell
        await pilot.press("enter")
        await pilot.pause()
        assert not cell.collapsed
        # Esc comes back to the composer, which sends again.
        await pilot.press("escape")
        assert app.focused is app.composer.area
        await type_text(pilot, "again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.turns_shown == 2)
        assert "Second answer." in screen_text(app)
