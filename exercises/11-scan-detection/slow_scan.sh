# node: sneaky
# Exercise 11, part 2: scan eight ports of web (10.0.0.10, ports 20-27) without being
# flagged by your own detector. Runs in sneaky: sudo taplab exercise run 11 slow_scan.sh
# TODO: an nmap SYN scan (-sS -Pn -n --max-retries 0) of ports 20-27, slow enough
#       that the detector forgets sneaky between two probes (see FORGET; --scan-delay).
