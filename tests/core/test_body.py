from __future__ import annotations

from mailfiler.core.body import html_as_text, sanitize_html, text_as_html


def test_the_sanitizer_removes_active_and_remote_content() -> None:
    dirty = (
        '<p onmouseover="x()" style="color:red;background:url(http://t/x.png)">Hi</p>'
        '<img src="cid:a@b"><img src="http://t.example/p.gif">'
        '<img src="data:image/png;base64,AA==">'
        '<iframe src="https://evil"></iframe><script>1</script><a href="javascript:x">j</a>'
        '<a href="mailto:ann@example.org">mail</a><table width="100"><tr><td bgcolor="#fff">c</td>'
        "</tr></table><font color=red>f</font>"
    )
    clean = sanitize_html(dirty)
    for gone in ("onmouseover", "url(", "t.example", "iframe", "<script", "javascript"):
        assert gone not in clean
    for kept in ('src="cid:a@b"', "data:image/png", "mailto:ann@example.org", 'bgcolor="#fff"',
                 '<font color="red">', 'style="color:red"'):  # fmt: skip
        assert kept in clean


def test_text_and_html_conversions_keep_layout() -> None:
    assert text_as_html("a < b\n  c") == '<div style="white-space: pre-wrap">a &lt; b\n  c</div>'
    text = html_as_text("<p>One</p><p>Two</p><table><tr><td>a</td><td>b</td></tr></table>")
    assert "One" in text and "Two" in text and "a" in text and "<" not in text
