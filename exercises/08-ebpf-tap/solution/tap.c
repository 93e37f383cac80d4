// Exercise 08, solution: an eBPF tap counting packets and bytes per protocol.
// Hook: tc clsact ingress and egress of pod2's host-side veth (veth-pod2, in node1).
// Needs: bcc. It never changes a packet: every path returns TC_ACT_OK.
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/pkt_cls.h>

enum { ICMP, TCP, UDP, OTHER, SLOTS };
// counters[slot]: packets; counters[SLOTS + slot]: bytes (frame length).
BPF_ARRAY(counters, u64, 2 * SLOTS);

static __always_inline void count(int slot, u64 bytes) {
    int packets_key = slot, bytes_key = SLOTS + slot;
    u64 *packets = counters.lookup(&packets_key);
    if (packets)
        __sync_fetch_and_add(packets, 1);
    u64 *total = counters.lookup(&bytes_key);
    if (total)
        __sync_fetch_and_add(total, bytes);
}

int tap(struct __sk_buff *skb) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    int slot = OTHER;
    if ((void *)(eth + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) <= end) {
            if (ip->protocol == IPPROTO_ICMP)
                slot = ICMP;
            else if (ip->protocol == IPPROTO_TCP)
                slot = TCP;
            else if (ip->protocol == IPPROTO_UDP)
                slot = UDP;
        }
    }
    count(slot, skb->len);
    return TC_ACT_OK;
}
