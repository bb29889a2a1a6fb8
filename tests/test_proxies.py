"""The reader's address behind trusted proxies (weir.collector.proxies) and where it is
(weir.collector.geo): a forwarding header is believed only from a trusted peer, read from the
right, and a hop that is not an address gives no client rather than a guess."""

from __future__ import annotations

import ipaddress

import pytest

from weir.collector.geo import Geography
from weir.collector.proxies import ClientAddresses, parse_address, parse_networks

LB = "10.0.0.5"
CLIENT = "81.2.69.142"


def trusting(*specs: str, header: str = "x-forwarded-for") -> ClientAddresses:
    return ClientAddresses(parse_networks(specs), header)


def ip(text: str):
    return ipaddress.ip_address(text)


def test_an_untrusted_peers_header_is_ignored_and_said_so():
    assert trusting("private").client("198.51.100.7", [CLIENT]) == (ip("198.51.100.7"), "untrusted_peer")
    assert ClientAddresses().client("127.0.0.1", [CLIENT]) == (ip("127.0.0.1"), "untrusted_peer")  # none trusted
    assert trusting("private").client("198.51.100.7", []) == (ip("198.51.100.7"), "direct")


def test_the_right_most_untrusted_hop_is_the_client():
    clients = trusting("private")
    assert clients.client(LB, [CLIENT]) == (ip(CLIENT), "forwarded")
    # A client that writes its own header is only the left of what the proxy appends.
    assert clients.client(LB, [f"203.0.113.9, {CLIENT}"]) == (ip(CLIENT), "forwarded")
    # Trusted hops (a second proxy of ours) are skipped; several header lines are one list.
    assert clients.client(LB, ["1.1.1.1", f"{CLIENT}, 10.1.2.3"]) == (ip(CLIENT), "forwarded")
    # Every hop trusted: the left-most is as far as anyone can see.
    assert clients.client(LB, ["10.9.9.9, 10.1.2.3"]) == (ip("10.9.9.9"), "forwarded")


def test_a_hop_that_is_not_an_address_gives_no_client():
    clients = trusting("private")
    for header in ("unknown", f"{CLIENT}, garbage", "", " , "):
        assert clients.client(LB, [header]) == (None, "invalid_header"), header
    assert clients.client(LB, [f"garbage, {CLIENT}"]) == (ip(CLIENT), "forwarded")  # never read that far


def test_hops_with_ports_brackets_and_mapped_addresses():
    assert parse_address("81.2.69.142:443") == ip(CLIENT)
    assert parse_address("[2001:db8::1]:8080") == ip("2001:db8::1")
    assert parse_address("2001:db8::1") == ip("2001:db8::1")
    assert parse_address("::ffff:81.2.69.142") == ip(CLIENT)
    assert parse_address('"[2001:db8::1]"') == ip("2001:db8::1")
    for bad in ("81.2.69.142:http", "[2001:db8::1", "[2001:db8::1]x", "_hidden", "81.2.69"):
        assert parse_address(bad) is None, bad


def test_the_forwarded_header_rfc_7239():
    clients = trusting("private", header="forwarded")
    assert clients.client(LB, [f"for={CLIENT};proto=https"]) == (ip(CLIENT), "forwarded")
    assert clients.client(LB, ['For="[2001:db8:cafe::17]:4711"']) == (ip("2001:db8:cafe::17"), "forwarded")
    assert clients.client(LB, [f"for=203.0.113.9, for={CLIENT};by=10.0.0.5"]) == (ip(CLIENT), "forwarded")
    assert clients.client(LB, ["for=unknown"]) == (None, "invalid_header")
    assert clients.client(LB, ["proto=https"]) == (None, "invalid_header")  # no for=: no client
    # Only the named header is read: a client's own X-Forwarded-For is not looked at.
    assert trusting("private", header="forwarded").client(LB, []) == (ip(LB), "direct")


def test_presets_and_bad_ranges():
    assert trusting("cloud-run").client("169.254.1.1", [CLIENT]) == (ip(CLIENT), "forwarded")
    assert trusting("google-lb").client("35.191.3.4", [CLIENT]) == (ip(CLIENT), "forwarded")
    assert trusting("192.0.2.10").client("192.0.2.10", [CLIENT]) == (ip(CLIENT), "forwarded")
    with pytest.raises(ValueError, match="preset"):
        parse_networks(["cloudrun"])
    with pytest.raises(ValueError):
        ClientAddresses((), "x-real-ip")


def test_countries_from_the_registries_and_nothing_for_addresses_that_are_nowhere():
    geo = Geography()
    assert geo.where(ip(CLIENT)) == ("GB", None)
    assert geo.where(ip("8.8.8.8"))[0] == "US"
    assert geo.where(ip("2001:4860:4860::8888"))[0] == "US"
    for nowhere in ("127.0.0.1", "10.1.2.3", "192.0.2.1", "169.254.1.1", "::1", "fe80::1", "2001:db8::1"):
        assert geo.where(ip(nowhere)) == (None, None), nowhere
    assert geo.where(None) == (None, None)


def city_database(path: str) -> str:
    """A small MaxMind-format City database (written with mmdb-writer), as an operator's licensed one."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City", languages=["en"])
    writer.insert_network(
        IPSet([f"{CLIENT}/32"]), {"country": {"iso_code": "GB"}, "subdivisions": [{"iso_code": "ENG"}]}
    )
    writer.insert_network(
        IPSet(["216.160.83.56/32"]), {"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "WA"}]}
    )
    writer.insert_network(IPSet(["2.125.160.216/32"]), {"country": {"iso_code": "GB"}})  # no subdivision
    writer.insert_network(IPSet(["89.160.20.112/32"]), {"country": {"iso_code": "EU"}})  # not a country
    writer.to_db_file(path)
    return path


def test_a_city_database_gives_regions_where_it_has_them(tmp_path):
    geo = Geography(city_database(str(tmp_path / "city.mmdb")))
    assert geo.where(ip(CLIENT)) == ("GB", "GB-ENG")
    assert geo.where(ip("216.160.83.56")) == ("US", "US-WA")
    assert geo.where(ip("2.125.160.216")) == ("GB", None)
    assert geo.where(ip("89.160.20.112")) == (None, None)
    assert geo.where(ip("8.8.4.4")) == (None, None)  # not in this database: unknown, not the registries' guess
    (tmp_path / "bad.mmdb").write_bytes(b"not a database")
    with pytest.raises(ValueError, match="MaxMind-format"):
        Geography(str(tmp_path / "bad.mmdb"))
