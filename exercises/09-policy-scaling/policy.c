// Exercise 09: drop TCP to any destination port found in one hash map.
// Hook: tc clsact ingress on pod2's eth0 (cls_bpf, direct action). Needs: bcc.
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/pkt_cls.h>
#include <uapi/linux/tcp.h>

// Blocked destination ports (host byte order) -> 1. The loader fills it.
BPF_HASH(blocked_ports, u16, u8, 4096);

int policy(struct __sk_buff *skb) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
        return TC_ACT_OK;
    struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
    if ((void *)(tcp + 1) > end)
        return TC_ACT_OK;
    // TODO 2: read the destination port (host byte order: bpf_ntohs), look it up in
    //         blocked_ports, and return TC_ACT_SHOT when it is there.
    return TC_ACT_OK;
}
