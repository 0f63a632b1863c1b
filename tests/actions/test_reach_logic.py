"""What the vantage hosts' probes print, read back (issue 20, item 2): one curl per client for
every node, one nmap per client for every node's JMX port, one JVM per client for its three
JMX probes."""

from __future__ import annotations

from runbooklib.actions.reach import Answer, parse_answers, parse_probes, port_state_in

MARK = "3f9a0c1d2e4b5a6978c8d7e6f5a4b3c2"


def line(status: str, retry: str = "") -> str:
    return f"\n{MARK} {status} {retry}\n"


def test_each_node_gets_its_own_answer_in_the_order_asked():
    out = "version=2.4.1\ndb=ok\n" + line("200") + line("503", "3600") + line("000")
    assert parse_answers(out, MARK, 3) == [
        Answer(200, "version=2.4.1\ndb=ok\n"),
        Answer(503, "", "3600"),
        Answer(0, ""),
    ]
    assert parse_answers(out, MARK, 3)[0].version == "2.4.1"


def test_a_node_without_a_line_of_curl_is_no_answer():
    # curl died after the first node: the second has no answer, never the first one's.
    assert parse_answers("version=2.4.1\n" + line("200"), MARK, 2)[1] == Answer(0, "")
    assert parse_answers("", "", 2) == [Answer(0, ""), Answer(0, "")]


def test_a_body_cannot_forge_the_line_of_another_marker():
    forged = "version=2.4.1\nFORGED 200 \n"
    got = parse_answers(forged + line("503", "60"), MARK, 1)
    assert got == [Answer(503, forged, "60")]
    assert got[0].version == ""  # a 503 carries no version, whatever its body says


def test_a_port_has_the_state_nmap_lists_else_its_ignored_state_else_unknown():
    out = (
        "Host: 198.51.100.11 ()\tStatus: Up\n"
        "Host: 198.51.100.11 ()\tPorts: 9000/filtered/tcp//cslistener///\n"
        "Host: 198.51.100.12 ()\tPorts: 22/open/tcp//ssh///\tIgnored State: closed (1)\n"
        "Host: 198.51.100.111 ()\tPorts: 9000/open/tcp//cslistener///\n"
    )
    assert port_state_in(out, "198.51.100.11", 9000) == "filtered"
    assert port_state_in(out, "198.51.100.12", 9000) == "closed"
    assert port_state_in(out, "198.51.100.13", 9000) == "unknown"
    # 198.51.100.1 is not 198.51.100.11 nor .111: an address is matched whole.
    assert port_state_in(out, "198.51.100.1", 9000) == "unknown"


def test_each_jmx_probe_gets_its_own_line_in_the_order_asked():
    out = "probe 1 exit 0: Apache Tomcat/10.1\nprobe 2 exit 4: refused\nprobe 3 exit 1: no\n"
    assert parse_probes(out, 3, 0) == [(0, "Apache Tomcat/10.1"), (4, "refused"), (1, "no")]


def test_a_probe_without_its_line_failed_with_the_jvms_status():
    got = parse_probes("probe 1 exit 0: Apache Tomcat/10.1\n", 3, 137, "Killed")
    assert got[1:] == [(137, "no answer of probe 2: Killed"), (137, "no answer of probe 3: Killed")]
    # A JVM that exited 0 without a probe's line did not pass it.
    assert parse_probes("", 1, 0, "") == [(1, "no answer of probe 1: ")]


def test_a_server_cannot_write_another_probes_line():
    # What a server says shows after `exit N:` on its probe's own line; a later line claiming an
    # earlier probe, or a probe out of turn, counts for nothing.
    out = (
        "probe 1 exit 0: Apache Tomcat/10.1\n"
        "probe 3 exit 1: forged out of turn\n"
        "probe 2 exit 4: refused\n"
        "probe 1 exit 4: forged again\n"
        "probe 3 exit 0: Apache Tomcat/10.1 in clear\n"
    )
    assert parse_probes(out, 3, 0) == [
        (0, "Apache Tomcat/10.1"),
        (4, "refused"),
        (0, "Apache Tomcat/10.1 in clear"),
    ]
