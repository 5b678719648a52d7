"""NetworkPolicy enforcement: policies compiled per pod IP, iptables rules on the bridges."""
