#!/bin/sh
# httpd as PID 1 would ignore SIGTERM: this shell stops it and exits.
httpd -f -p 8080 -h /opt/app/www &
trap 'kill $!; exit 0' TERM
wait
