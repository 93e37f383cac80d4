// The IPv4 5-tuple key shared by taplab's eBPF taps (ebpf_tap.c, xdp_flowtable.c).
#ifndef TAPLAB_FLOW_KEY_H
#define TAPLAB_FLOW_KEY_H
struct flow_key {
    u32 saddr;
    u32 daddr;
    u16 sport;
    u16 dport;
    u8 proto;
    u8 pad[3];
};
#endif
