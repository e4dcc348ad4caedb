#!/usr/bin/env python3
"""A bare chat-completions client, the floor `git grad eval` is measured against.

    bare-client.py BASE_URL N CONCURRENCY

Sends N distinct requests with at most CONCURRENCY in flight over keep-alive connections
(standard library only: one thread and one connection per slot) and exits when all are answered.
"""
import http.client
import json
import sys
import threading
import urllib.parse

base, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
url = urllib.parse.urlparse(base)
next_index = 0
lock = threading.Lock()


def worker():
    global next_index
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    while True:
        with lock:
            index = next_index
            next_index += 1
        if index >= total:
            return
        body = json.dumps({"model": "bench", "temperature": 0, "max_tokens": 24,
                           "messages": [{"role": "user", "content": f"Route this message to a queue: message number {index}"}]})
        connection.request("POST", url.path + "/chat/completions", body, {"Content-Type": "application/json"})
        reply = json.loads(connection.getresponse().read())
        reply["choices"][0]["message"]["content"]


threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
