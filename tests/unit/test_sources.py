from testbed import sources

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.test/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb-src
URIs: http://mirror.test/debian
Suites: bookworm
Components: main

Types: deb
Enabled: no
URIs: http://disabled.test/debian
Suites: bookworm
Components: main
"""


def test_deb822_keeps_enabled_binary_sources_only():
    parsed = sources.parse_deb822(DEB822)
    assert [(s.uri, s.suites, s.components) for s in parsed] == [
        ("http://mirror.test/debian", ("bookworm", "bookworm-updates"), ("main",)),
        ("http://mirror.test/debian-security", ("bookworm-security",), ("main", "contrib")),
    ]
    assert parsed[0].signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_one_line_sources_with_options_and_comments():
    text = (
        "# deb http://commented.test/ bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] https://mirror.test/debian bookworm main non-free\n"
        "deb-src http://mirror.test/debian bookworm main\n"
    )
    (only,) = sources.parse_one_line(text)
    assert (only.uri, only.suites, only.components, only.signed_by) == (
        "https://mirror.test/debian",
        ("bookworm",),
        ("main", "non-free"),
        "/k.gpg",
    )


def test_debian_sources_move_to_the_requested_suite(monkeypatch):
    monkeypatch.setattr(sources, "_control_release", lambda: "bookworm")
    parsed = sources.parse_deb822(DEB822)
    moved = sources.debian_sources(parsed, "trixie")
    assert [s.suites for s in moved] == [("trixie", "trixie-updates"), ("trixie-security",)]
    assert sources.main_mirror(moved, "trixie").uri == "http://mirror.test/debian"


def test_sources_for_other_releases_are_not_carried(monkeypatch):
    monkeypatch.setattr(sources, "_control_release", lambda: "bookworm")
    other = sources.AptSource("https://vendor.test/apt", ("nodistro",), ("main",))
    assert sources.debian_sources([other], "bookworm") == []


def test_rendered_sources_round_trip():
    parsed = sources.parse_deb822(DEB822)
    assert sources.parse_deb822(sources.render_deb822(parsed)) == parsed


def test_endpoints_skip_local_indexes_and_default_ports():
    urls = [
        "file:///opt/pypi/simple",
        "http://mirror.test/debian",
        "https://index.test/simple/",
        "https://index.test/other",
        "http://proxy.test:3128",
    ]
    assert sources.endpoints_of(urls) == [
        sources.Endpoint("mirror.test", 80),
        sources.Endpoint("index.test", 443),
        sources.Endpoint("proxy.test", 3128),
    ]


def test_pip_config_listing_yields_every_index():
    listing = (
        ":env:.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.index-url='https://index.test/simple'\n"
        "global.extra-index-url='file:///opt/a https://more.test/simple'\n"
    )
    assert sources.parse_pip_config(listing) == [
        "https://index.test/simple",
        "file:///opt/a",
        "https://more.test/simple",
    ]


def test_only_reach_settings_of_apt_are_carried():
    dump = (
        'Acquire::Check-Valid-Until "false";\n'
        'Acquire::http::Proxy "http://proxy.test:3128";\n'
        'Acquire::IndexTargets::deb::DEP-11 "";\n'
        'APT::Install-Recommends "1";\n'
    )
    assert sources.carried_apt_settings(dump) == (
        'Acquire::Check-Valid-Until "false";\nAcquire::http::Proxy "http://proxy.test:3128";\n'
    )
