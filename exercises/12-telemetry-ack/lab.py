"""Exercise 12's starting lab: an OpenFlow switch whose controller runs taplab's lambda
server, which takes telemetry from switch agents on 127.0.0.1 (UDP, the published
protocol, version 2 with HMAC).

    h1 10.0.0.1 --- s1 --- h2 10.0.0.2        controller: lambda server, telemetry port
"""

REQUIRES = ("ovs_user",)
CONTROLLER_APPS: list[str] = []  # taplab's default apps: learning switch and lambdas


def build(lab) -> None:
    s1 = lab.add_switch("s1", kind="ovs")
    for i in (1, 2):
        host = lab.add_host(f"h{i}")
        lab.add_link(host, s1, intfName1="eth0")
    lab.start()
    for i in (1, 2):
        lab.node(f"h{i}").setIP(f"10.0.0.{i}/24", intf="eth0")
    lab.set_meta(switch=s1.name)
