// taplab xdp-flowtable: the published XDP flow table (lambda functions for
// network monitoring, 2021). Hook: XDP, generic (SKB) mode on a veth. Needs: bcc.
// A fixed array of SLOTS entries indexed by a hash of the 5-tuple. Each entry
// counts packets, bytes, SYNs, RSTs and empty UDP datagrams of one flow. When
// another flow hashes to a busy slot, the slot is kept if it was updated within
// RECENT_NS (the collision is counted and the packet is not) and overwritten
// otherwise. Defines from the loader: SLOTS, RECENT_NS.
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/tcp.h>
#include <uapi/linux/udp.h>

#include "flow_key.h"

struct ft_entry {
    struct flow_key key;
    u64 packets;
    u64 bytes;
    u64 syn;
    u64 rst;
    u64 empty_udp;
    u64 last_seen;
};

enum { S_COLLISIONS, S_OVERWRITES, S_NOT_IP, S_MAX };

BPF_ARRAY(table, struct ft_entry, SLOTS);
BPF_PERCPU_ARRAY(stats, u64, S_MAX);

static inline __attribute__((always_inline)) void bump(u32 index) {
    u64 *value = stats.lookup(&index);
    if (value)
        *value += 1;
}

static inline __attribute__((always_inline)) u32 slot_of(struct flow_key *k) {
    u32 h = k->saddr * 2654435761u;
    h ^= k->daddr * 2246822519u;
    h ^= (((u32)k->sport << 16) | k->dport) * 3266489917u;
    h ^= k->proto * 668265263u;
    h ^= h >> 15;
    return h % SLOTS;
}

int taplab_xdp_ft(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_PASS;
    if (eth->h_proto != htons(ETH_P_IP)) {
        bump(S_NOT_IP);
        return XDP_PASS;
    }
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_PASS;
    struct flow_key key = {.saddr = ip->saddr, .daddr = ip->daddr, .proto = ip->protocol};
    void *l4 = (void *)ip + ip->ihl * 4;
    u64 syn = 0, rst = 0, empty_udp = 0;
    if (ip->protocol == IPPROTO_TCP) {
        struct tcphdr *tcp = l4;
        if ((void *)(tcp + 1) > end)
            return XDP_PASS;
        key.sport = ntohs(tcp->source);
        key.dport = ntohs(tcp->dest);
        syn = tcp->syn && !tcp->ack;
        rst = tcp->rst;
    } else if (ip->protocol == IPPROTO_UDP) {
        struct udphdr *udp = l4;
        if ((void *)(udp + 1) > end)
            return XDP_PASS;
        key.sport = ntohs(udp->source);
        key.dport = ntohs(udp->dest);
        empty_udp = ntohs(udp->len) == sizeof(*udp);
    }
    u32 slot = slot_of(&key);
    struct ft_entry *e = table.lookup(&slot);
    if (!e)
        return XDP_PASS;
    u64 now = bpf_ktime_get_ns();
    int same = e->key.saddr == key.saddr && e->key.daddr == key.daddr &&
               e->key.sport == key.sport && e->key.dport == key.dport &&
               e->key.proto == key.proto;
    if (!same && e->packets) {
        if (now - e->last_seen < RECENT_NS) {
            bump(S_COLLISIONS);
            return XDP_PASS;
        }
        bump(S_OVERWRITES);
        e->packets = e->bytes = e->syn = e->rst = e->empty_udp = 0;
    }
    if (!same)
        e->key = key;
    __sync_fetch_and_add(&e->packets, 1);
    __sync_fetch_and_add(&e->bytes, (u64)(end - data));
    if (syn)
        __sync_fetch_and_add(&e->syn, 1);
    if (rst)
        __sync_fetch_and_add(&e->rst, 1);
    if (empty_udp)
        __sync_fetch_and_add(&e->empty_udp, 1);
    e->last_seen = now;
    return XDP_PASS;
}
