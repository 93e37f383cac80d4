# node: sneaky
# Exercise 11, solution: scan ports 20-27 of web slower than the detector remembers
# (one probe every 2.2 s > FORGET = 2 s), so that its walk restarts at every probe.
nmap -sS -Pn -n -p 20-27 --scan-delay 2200ms --max-retries 0 10.0.0.10
