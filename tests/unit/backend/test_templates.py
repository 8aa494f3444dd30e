"""Notification templates: the exact record in every part, and HTML escaping of every value."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from seppmail_lifecycle.backend import templates

HOSTILE = '<script>alert("x")</script>&'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"

Render = Callable[[str], tuple[str, str, str]]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def tags_of(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def record(**fields: str) -> templates.DnsRecord:
    return templates.DnsRecord(**{"record_type": "TXT", "name": "acme.ch", "expected": "x", "found": "y", **fields})


TXT = templates.DnsRecord("TXT", "_seppmail.acme.ch", "seppmail-verify=0123abcd", "seppmail-verify=old")
MX = templates.DnsRecord("MX", "acme.ch", "mx1.seppmail.cloud", "")


def test_dns_action_names_the_exact_record() -> None:
    subject, text, html = templates.dns_action("Acme AG", "acme.ch", [TXT])
    assert subject == "Action required: add the TXT record for acme.ch"
    for part in (text, html):
        assert "acme.ch" in part
        assert "Acme AG" in part
        assert "_seppmail.acme.ch" in part
        assert "seppmail-verify=0123abcd" in part
        assert "seppmail-verify=old" in part
        assert "seppmail.cloud" in part
    assert "  Type:  TXT\n  Name:  _seppmail.acme.ch\n  Value: seppmail-verify=0123abcd\n" in text
    assert "this DNS record" in text
    assert text.rstrip().endswith("seppmail.cloud")
    assert "<code>_seppmail.acme.ch</code>" in html
    assert "<code>seppmail-verify=0123abcd</code>" in html


def test_dns_action_lists_every_missing_record_in_one_mail() -> None:
    subject, text, html = templates.dns_action("Acme AG", "acme.ch", [TXT, MX])
    assert subject == "Action required: add the TXT and MX records for acme.ch"
    assert "these DNS records" in text
    assert text.index("_seppmail.acme.ch") < text.index("mx1.seppmail.cloud")
    assert "Found so far: no record" in text  # the MX record
    assert html.count("<table") == 2
    # Mail is accepted only once the TXT record proved the name: the MX records come second.
    for part in (text, html):
        assert "Create the TXT record first" in part
    assert "TXT record first" not in templates.dns_action("Acme AG", "acme.ch", [MX])[1]
    assert "TXT record first" not in templates.dns_action("Acme AG", "acme.ch", [TXT])[1]


def test_dns_action_says_when_nothing_was_found() -> None:
    subject, text, html = templates.dns_action("Acme AG", "acme.ch", [MX])
    assert subject == "Action required: add the MX record for acme.ch"
    assert "Found so far: no record" in text
    assert "no record" in html
    assert "mx1.seppmail.cloud" in text
    assert "mx1.seppmail.cloud" in html


def test_domain_provisioned_lists_the_services() -> None:
    subject, text, html = templates.domain_provisioned("Acme AG", "acme.ch", ["base", "sign-encrypt"])
    assert subject == "acme.ch is live on seppmail.cloud"
    assert "  - base\n  - sign-encrypt\n" in text
    assert "<li>base</li>" in html
    assert "<li>sign-encrypt</li>" in html
    for part in (text, html):
        assert "acme.ch" in part
        assert "Acme AG" in part
    assert text.rstrip().endswith("seppmail.cloud")


def test_domain_provisioned_without_services() -> None:
    _, text, html = templates.domain_provisioned("Acme AG", "acme.ch", [])
    assert "(none)" in text
    assert "<li>(none)</li>" in html


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(lambda v: templates.dns_action(v, "acme.ch", [record()]), id="dns-tenant"),
        pytest.param(lambda v: templates.dns_action("t", v, [record()]), id="dns-domain"),
        pytest.param(lambda v: templates.dns_action("t", "acme.ch", [record(record_type=v)]), id="dns-type"),
        pytest.param(lambda v: templates.dns_action("t", "acme.ch", [record(name=v)]), id="dns-name"),
        pytest.param(lambda v: templates.dns_action("t", "acme.ch", [record(expected=v)]), id="dns-expected"),
        pytest.param(lambda v: templates.dns_action("t", "acme.ch", [record(found=v)]), id="dns-found"),
        pytest.param(lambda v: templates.domain_provisioned(v, "acme.ch", ["base"]), id="live-tenant"),
        pytest.param(lambda v: templates.domain_provisioned("t", v, ["base"]), id="live-domain"),
        pytest.param(lambda v: templates.domain_provisioned("t", "acme.ch", ["base", v]), id="live-service"),
    ],
)
def test_html_escapes_every_value(render: Render) -> None:
    benign_subject, _, benign_html = render("benign")
    subject, text, html = render(HOSTILE)
    assert "<script" not in html
    assert ESCAPED in html
    assert tags_of(html) == tags_of(benign_html)
    assert HOSTILE in text  # plain text is not markup: the value stays as written
    assert subject == benign_subject.replace("benign", HOSTILE)
