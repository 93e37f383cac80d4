# node: pod2
# Exercise 09, step 1 (given): the iptables way. N DROP rules, one per blocked port
# (10000, 10001, ...), in pod2's INPUT chain. Every packet that matches none of them
# (your iperf3 test on port 5201) is compared with all N first.
#   sudo N=200 taplab exercise run 09 iptables_policy.sh
# Remove them again with: sudo taplab exercise reset 09
N="${N:-100}"
{
    echo "*filter"
    i=0
    while [ "$i" -lt "$N" ]; do
        echo "-A INPUT -p tcp --dport $((10000 + i)) -j DROP"
        i=$((i + 1))
    done
    echo "COMMIT"
} | iptables-restore --noflush
echo "pod2 INPUT now has $N DROP rules"
