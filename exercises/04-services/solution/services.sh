# node: node1
# Exercise 04, solution: kube-proxy's iptables mode in miniature.
iptables -t nat -N KUBE-SERVICES
iptables -t nat -N KUBE-SVC-WEB
iptables -t nat -A PREROUTING -j KUBE-SERVICES
iptables -t nat -A OUTPUT -j KUBE-SERVICES
iptables -t nat -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp --dport 80 -j KUBE-SVC-WEB
iptables -t nat -A KUBE-SERVICES -d 192.168.0.1/32 -p tcp --dport 30080 -j KUBE-SVC-WEB
iptables -t nat -A KUBE-SVC-WEB -p tcp -m statistic --mode random --probability 0.5 \
    -j DNAT --to-destination 10.244.1.2:8080
iptables -t nat -A KUBE-SVC-WEB -p tcp -j DNAT --to-destination 10.244.1.3:8080
