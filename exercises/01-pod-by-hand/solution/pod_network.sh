# node: node1
# Exercise 01, solution: a bridge, two veth pairs into the pods, addresses, routes, forwarding.
ip link add cni0 type bridge
ip addr add 10.244.1.1/24 dev cni0
ip link set cni0 up
for i in 1 2; do
    pod="$LAB-pod$i"
    ip link add "veth-pod$i" type veth peer name eth0 netns "$pod"
    ip link set "veth-pod$i" master cni0 up
    ip -n "$pod" link set lo up
    ip -n "$pod" addr add "10.244.1.$((i + 1))/24" dev eth0
    ip -n "$pod" link set eth0 up
    ip -n "$pod" route add default via 10.244.1.1
done
sysctl -qw net.ipv4.ip_forward=1
