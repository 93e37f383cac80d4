// Per-destination TCP control counters on tc ingress (loaded by ebpf_syn.py with bcc).
// Hook: tc clsact ingress (cls_bpf, direct action); never drops or changes a packet.
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/pkt_cls.h>
#include <uapi/linux/tcp.h>

struct counts {
    u64 syn;     // SYNs towards the destination
    u64 synack;  // SYN-ACKs sent by it
    u64 fin;     // FINs towards it
    u64 rst;     // RSTs towards it
};

struct pair {
    u32 dst;
    u32 src;
};

BPF_HASH(per_dst, u32, struct counts, 4096);
BPF_HASH(syn_from, struct pair, u64, 16384);

static inline void bump(u32 addr, int which) {
    struct counts zero = {};
    struct counts *c = per_dst.lookup_or_try_init(&addr, &zero);
    if (!c)
        return;
    if (which == 0) __sync_fetch_and_add(&c->syn, 1);
    else if (which == 1) __sync_fetch_and_add(&c->synack, 1);
    else if (which == 2) __sync_fetch_and_add(&c->fin, 1);
    else __sync_fetch_and_add(&c->rst, 1);
}

int count_syn(struct __sk_buff *skb) {
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_TCP)
        return TC_ACT_OK;
    struct tcphdr *tcp = (void *)ip + (ip->ihl & 0xF) * 4;
    if ((void *)(tcp + 1) > data_end)
        return TC_ACT_OK;
    if (tcp->syn && !tcp->ack) {
        struct pair p = {.dst = ip->daddr, .src = ip->saddr};
        u64 zero = 0;
        u64 *n = syn_from.lookup_or_try_init(&p, &zero);
        if (n)
            __sync_fetch_and_add(n, 1);
        bump(ip->daddr, 0);
    } else if (tcp->syn) {
        bump(ip->saddr, 1);
    } else if (tcp->fin) {
        bump(ip->daddr, 2);
    } else if (tcp->rst) {
        bump(ip->daddr, 3);
    }
    return TC_ACT_OK;
}
