"""The Base URL spellings the features name, and what the reference makes of each (no network)."""

import pytest

from mm_conformance.scenario import base_urls
from mm_conformance.protocol.reference import ConfigError, site_url

SITE = "http://127.0.0.1:8065"


@pytest.mark.parametrize("form", ["as the browser shows it", "with a trailing slash", "with two trailing slashes",
                                  "with an upper-case scheme"])
def test_every_spelling_of_the_site_url_is_the_site_url_to_the_reference(form):
    assert site_url(base_urls.spell(SITE, form)) == SITE


@pytest.mark.parametrize("form", ["without a scheme", "left empty", "with an ftp scheme", "with a query string",
                                  "with a fragment", "with a leading space", "with a trailing space",
                                  "with /api/v4 pasted", "with /api/v4/ pasted"])
def test_the_reference_refuses_an_unusable_base_url_before_sending_anything(form):
    with pytest.raises(ConfigError):
        site_url(base_urls.spell(SITE, form))


def test_upper_case_host_name():
    assert base_urls.spell(SITE, "with an upper-case host name") == "http://LOCALHOST:8065"
    assert base_urls.spell("https://chat.example.com/mm", "with an upper-case host name") == "https://CHAT.EXAMPLE.COM/mm"
    assert site_url(base_urls.spell(SITE, "with an upper-case host name")).lower() == "http://localhost:8065"


def test_subpath_spellings():
    site = f"{SITE}/mattermost"
    assert base_urls.spell(site, "with a trailing slash") == f"{site}/"
    assert base_urls.spell(site, "without its subpath") == SITE


def test_an_unknown_spelling_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown Base URL spelling 'in pig latin'; known: as the browser shows it"):
        base_urls.spell(SITE, "in pig latin")
