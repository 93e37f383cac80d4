// taplab policy map: the eBPF report's Cilium-like policy, one hash-map lookup per
// packet whatever the number of entries.
// Hook: tc clsact ingress (cls_bpf, direct action) on a container's host-side veth,
// i.e. what the container sends. Needs: bcc, cls_bpf.
// An IPv4 packet whose (source address, TCP destination port) is in the map is
// dropped, as by the iptables variant's DROP rules; every other packet passes.
// Define from the loader: POLICY_ENTRIES (the map's capacity).
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/pkt_cls.h>
#include <uapi/linux/tcp.h>

struct rule {
    u32 saddr;  // network order
    u16 dport;  // network order
    u16 pad;
};

BPF_HASH(policy, struct rule, u8, POLICY_ENTRIES);

int taplab_policy(struct __sk_buff *skb) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return TC_ACT_OK;
    struct rule key = {.saddr = ip->saddr};
    if (ip->protocol == IPPROTO_TCP && ip->ihl == 5) {
        struct tcphdr *tcp = (void *)(ip + 1);
        if ((void *)(tcp + 1) > end)
            return TC_ACT_OK;
        key.dport = tcp->dest;
    }
    return policy.lookup(&key) ? TC_ACT_SHOT : TC_ACT_OK;
}
