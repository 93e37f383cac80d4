// taplab ebpf tap: a TC (cls_bpf, clsact ingress + egress) program.
// Hook: tc clsact on the pod's host-side veth. Needs: bcc, cls_bpf.
// Counts per protocol and TCP flag (per-CPU), keeps an LRU map of flows, and
// mirrors (bpf_clone_redirect into the tap's copy path to VXLAN, copy_path.py) per MIRROR_MODE:
//   0 nothing, 1 every packet, 2 a TCP stream once an HTTP 500 is seen in it.
// Its own copies (UDP to COLLECTOR_IP, network order; fragments of big copies
// have no UDP header, so any port) are neither counted nor mirrored.
// Defines from the loader: FLOW_ENTRIES, MIRROR_ENTRIES, MIRROR_MODE, MIRROR_IFINDEX,
// COLLECTOR_IP.
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/pkt_cls.h>
#include <uapi/linux/tcp.h>

#include "flow_key.h"

struct flow_val {
    u64 packets;
    u64 bytes;
};

// One per-CPU array of counters, in this order (the loader reads the same layout):
// packets per protocol, bytes per protocol, TCP flags, events.
enum { P_TCP, P_UDP, P_ICMP, P_OTHER_IP, P_NON_IP, P_MAX };
enum { F_FIN, F_SYN, F_RST, F_PSH, F_ACK, F_URG, F_MAX };
enum { E_NEW_FLOWS, E_MIRRORED, E_MIRROR_FAILED, E_TRIGGERS, E_MAX };
#define PACKETS(p) (p)
#define BYTES(p) (P_MAX + (p))
#define FLAG(f) (2 * P_MAX + (f))
#define EVENT(e) (2 * P_MAX + F_MAX + (e))

BPF_PERCPU_ARRAY(counters, u64, 2 * P_MAX + F_MAX + E_MAX);
BPF_TABLE("lru_hash", struct flow_key, struct flow_val, flows, FLOW_ENTRIES);
BPF_TABLE("lru_hash", struct flow_key, u64, mirrored, MIRROR_ENTRIES);

// Per-CPU: no other CPU writes this copy, a plain add is enough.
static inline __attribute__((always_inline)) void bump(u32 index, u64 by) {
    u64 *value = counters.lookup(&index);
    if (value)
        *value += by;
}

static inline __attribute__((always_inline)) void count_flow(struct flow_key *key, u64 len) {
    struct flow_val *val = flows.lookup(key);
    if (val) {
        __sync_fetch_and_add(&val->packets, 1);
        __sync_fetch_and_add(&val->bytes, len);
        return;
    }
    struct flow_val fresh = {1, len};
    if (flows.update(key, &fresh) == 0)
        bump(EVENT(E_NEW_FLOWS), 1);
}

// Is the TCP payload at offset the start of an HTTP 500 response ("HTTP/1.x 500")?
static inline __attribute__((always_inline)) int http_500(struct __sk_buff *skb, u32 offset) {
    char head[12];
    if (bpf_skb_load_bytes(skb, offset, head, sizeof(head)) < 0)
        return 0;
    return head[0] == 'H' && head[1] == 'T' && head[2] == 'T' && head[3] == 'P' &&
           head[4] == '/' && head[8] == ' ' && head[9] == '5' && head[10] == '0' &&
           head[11] == '0';
}

static inline __attribute__((always_inline)) void mirror(struct __sk_buff *skb) {
    if (bpf_clone_redirect(skb, MIRROR_IFINDEX, 0) == 0)
        bump(EVENT(E_MIRRORED), 1);
    else
        bump(EVENT(E_MIRROR_FAILED), 1);
}

// Headers are read in place (direct packet access). The first n bytes of a frame are
// pulled into its linear part only when they are not there already (and the frame has
// them); the caller reloads its packet pointers afterwards.
static inline __attribute__((always_inline)) void linear(struct __sk_buff *skb, u32 n) {
    if ((void *)(long)skb->data + n > (void *)(long)skb->data_end && n <= skb->len)
        bpf_skb_pull_data(skb, n);
}

int taplab_tap(struct __sk_buff *skb) {
    u64 len = skb->len;
    linear(skb, ETH_HLEN + sizeof(struct iphdr));
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP)) {
        bump(PACKETS(P_NON_IP), 1);
        bump(BYTES(P_NON_IP), len);
        if (MIRROR_MODE == 1)
            mirror(skb);
        return TC_ACT_OK;
    }
    struct iphdr *ip = data + ETH_HLEN;
    if ((void *)(ip + 1) > end)
        return TC_ACT_OK;
    u32 ihl = ip->ihl * 4;
    u32 l4 = ETH_HLEN + ihl;
    u16 ip_len = ntohs(ip->tot_len);
    struct flow_key key = {.saddr = ip->saddr, .daddr = ip->daddr, .proto = ip->protocol};
    u32 proto = P_OTHER_IP;
    u32 doff = 0;
    if (key.proto == IPPROTO_TCP) {
        proto = P_TCP;
        linear(skb, l4 + sizeof(struct tcphdr));
        struct tcphdr *tcp = (void *)(long)skb->data + l4;
        if ((void *)(tcp + 1) <= (void *)(long)skb->data_end) {
            key.sport = ntohs(tcp->source);
            key.dport = ntohs(tcp->dest);
            doff = tcp->doff * 4;
            if (tcp->fin) bump(FLAG(F_FIN), 1);
            if (tcp->syn) bump(FLAG(F_SYN), 1);
            if (tcp->rst) bump(FLAG(F_RST), 1);
            if (tcp->psh) bump(FLAG(F_PSH), 1);
            if (tcp->ack) bump(FLAG(F_ACK), 1);
            if (tcp->urg) bump(FLAG(F_URG), 1);
        }
    } else if (key.proto == IPPROTO_UDP) {
        proto = P_UDP;
        linear(skb, l4 + 4);
        u16 *ports = (void *)(long)skb->data + l4;
        if ((void *)(ports + 2) <= (void *)(long)skb->data_end) {
            key.sport = ntohs(ports[0]);
            key.dport = ntohs(ports[1]);
        }
        if (COLLECTOR_IP && key.daddr == COLLECTOR_IP)
            return TC_ACT_OK;
    } else if (key.proto == IPPROTO_ICMP) {
        proto = P_ICMP;
    }
    bump(PACKETS(proto), 1);
    bump(BYTES(proto), len);
    count_flow(&key, len);

    if (MIRROR_MODE == 1) {
        mirror(skb);
    } else if (MIRROR_MODE == 2 && proto == P_TCP) {
        // One key for both directions of a stream: the smaller endpoint first.
        struct flow_key stream = key;
        if (key.saddr > key.daddr || (key.saddr == key.daddr && key.sport > key.dport)) {
            stream.saddr = key.daddr;
            stream.daddr = key.saddr;
            stream.sport = key.dport;
            stream.dport = key.sport;
        }
        u64 *seen = mirrored.lookup(&stream);
        if (!seen) {
            if (!doff || ip_len < ihl + doff + 12 || !http_500(skb, l4 + doff))
                return TC_ACT_OK;
            u64 now = bpf_ktime_get_ns();
            mirrored.update(&stream, &now);
            bump(EVENT(E_TRIGGERS), 1);
        }
        mirror(skb);
    }
    return TC_ACT_OK;
}
