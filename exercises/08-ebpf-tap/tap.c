// Exercise 08: an eBPF tap counting packets and bytes per protocol.
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
    // TODO 1: for IPv4 frames (check eth against end first, then h_proto), read the
    //         IP header (check it against end too) and pick the slot ICMP, TCP or UDP
    //         from ip->protocol; everything else stays OTHER.
    count(slot, skb->len);
    return TC_ACT_OK;
}
