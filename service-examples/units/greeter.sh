#!/bin/sh
# greeter.service's ExecStart: says who it runs as and what its environment
# holds, then fetches web.service's page every 5 s.
echo "greeter: started as $(id -un), $GREETING $GREETING_TO"
while :; do
    echo "greeter: got $(wget -q -O - "$WEB_URL")"
    sleep 5
done
