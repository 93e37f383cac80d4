// Per-destination TCP control counters and per-sender stealth probe counters on tc
// ingress (loaded by ebpf_syn.py with bcc).
// Hook: tc clsact ingress (cls_bpf, direct action); never drops or changes a packet.
#include <uapi/linux/bpf.h>
#include <uapi/linux/icmp.h>
#include <uapi/linux/if_arp.h>
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

#define TCP_FIN_BIT 0x01
#define TCP_SYN_BIT 0x02
#define TCP_RST_BIT 0x04
#define TCP_PSH_BIT 0x08
#define TCP_ACK_BIT 0x10
#define TCP_URG_BIT 0x20

struct pair {
    u32 dst;
    u32 src;
};

// TCP probes no real stack sends outside a handshake, per real sender.
struct stealth {
    u64 null;     // no flags
    u64 xmas;     // FIN|PSH|URG without ACK
    u64 fin;      // FIN without ACK (and not Xmas)
    u64 odd;      // other flags without ACK, SYN or RST; SYN with FIN or RST
    u64 replies;  // RSTs and ICMP unreachables sent back to it
    u64 forged;   // probes whose source address is not the sender's
    u32 dst;      // the last destination probed
    u32 claimed;  // the last forged source address
};

BPF_HASH(per_dst, u32, struct counts, 4096);
BPF_HASH(syn_from, struct pair, u64, 16384);
BPF_TABLE("lru_hash", u32, struct stealth, stealth_from, 16384);
BPF_TABLE("lru_hash", u64, u32, owner, 16384);  // MAC -> the address it announced first by ARP

struct arp_ipv4 {
    struct arphdr hdr;
    u8 sha[ETH_ALEN];
    u32 sip;
} __attribute__((packed));

static inline u64 mac_key(const u8 *mac) {
    u64 key = 0;
    __builtin_memcpy(&key, mac, ETH_ALEN);
    return key;
}

static inline void learn_arp(struct ethhdr *eth, void *data_end) {
    struct arp_ipv4 *arp = (void *)(eth + 1);
    if ((void *)(arp + 1) > data_end || arp->sip == 0 || arp->hdr.ar_pln != 4)
        return;
    u64 mac = mac_key(arp->sha);
    u32 sip = arp->sip;
    owner.lookup_or_try_init(&mac, &sip);
}

// Counts a stealth probe for the frame's real sender (the owner of its MAC, else its source).
static inline void count_probe(struct ethhdr *eth, struct iphdr *ip, struct tcphdr *tcp) {
    u8 flags = ((u8 *)tcp)[13] & 0x3f;  // FIN SYN RST PSH ACK URG
    int kind;
    if (flags & TCP_ACK_BIT)
        return;
    if (flags & TCP_SYN_BIT)
        kind = (flags & (TCP_FIN_BIT | TCP_RST_BIT)) ? 3 : -1;
    else if (flags & TCP_RST_BIT)
        kind = -1;
    else if (flags == 0)
        kind = 0;
    else if (flags == (TCP_FIN_BIT | TCP_PSH_BIT | TCP_URG_BIT))
        kind = 1;
    else if (flags == TCP_FIN_BIT)
        kind = 2;
    else
        kind = 3;
    if (kind < 0)
        return;
    u64 mac = mac_key(eth->h_source);
    u32 *known = owner.lookup(&mac);
    u32 sender = known ? *known : ip->saddr;
    struct stealth zero = {};
    struct stealth *s = stealth_from.lookup_or_try_init(&sender, &zero);
    if (!s)
        return;
    if (kind == 0) __sync_fetch_and_add(&s->null, 1);
    else if (kind == 1) __sync_fetch_and_add(&s->xmas, 1);
    else if (kind == 2) __sync_fetch_and_add(&s->fin, 1);
    else __sync_fetch_and_add(&s->odd, 1);
    if (sender != ip->saddr) {
        __sync_fetch_and_add(&s->forged, 1);
        s->claimed = ip->saddr;
    }
    s->dst = ip->daddr;
}

// A RST or an ICMP unreachable towards an address that has sent stealth probes.
static inline void count_reply(u32 to) {
    struct stealth *s = stealth_from.lookup(&to);
    if (s)
        __sync_fetch_and_add(&s->replies, 1);
}

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
    if ((void *)(eth + 1) > data_end)
        return TC_ACT_OK;
    if (eth->h_proto == htons(ETH_P_ARP)) {
        learn_arp(eth, data_end);
        return TC_ACT_OK;
    }
    if (eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || (ip->frag_off & htons(0x1FFF)))
        return TC_ACT_OK;  // later fragments carry no header to read
    void *l4 = (void *)ip + (ip->ihl & 0xF) * 4;
    if (ip->protocol == IPPROTO_ICMP) {
        struct icmphdr *icmp = l4;
        if ((void *)(icmp + 1) <= data_end && icmp->type == ICMP_DEST_UNREACH)
            count_reply(ip->daddr);
        return TC_ACT_OK;
    }
    if (ip->protocol != IPPROTO_TCP)
        return TC_ACT_OK;
    struct tcphdr *tcp = l4;
    if ((void *)(tcp + 1) > data_end)
        return TC_ACT_OK;
    count_probe(eth, ip, tcp);
    if (tcp->rst)
        count_reply(ip->daddr);
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
