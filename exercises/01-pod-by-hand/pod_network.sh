# node: node1
# Exercise 01: a pod network by hand. This script runs inside node1's namespace;
# $LAB is the lab id, so pod1's namespace is "$LAB-pod1" (ip -n "$LAB-pod1" ...).
# Run it with: sudo taplab exercise run 01 pod_network.sh
ip link add cni0 type bridge
ip link set cni0 up
# TODO 1: give cni0 the address 10.244.1.1/24 (the pods' gateway).

for i in 1 2; do
    pod="$LAB-pod$i"
    # TODO 2: create a veth pair: "veth-pod$i" stays in node1, its peer is called
    #         eth0 and lives in "$pod" (ip link add ... type veth peer name ... netns ...).
    # TODO 3: attach "veth-pod$i" to cni0 and bring it up.
    # TODO 4: in the pod: bring up lo and eth0, give eth0 10.244.1.$((i + 1))/24.
    # TODO 5: in the pod: a default route via 10.244.1.1.
    :
done
# TODO 6: let node1 forward IPv4 between cni0 and eth0 (a sysctl).
