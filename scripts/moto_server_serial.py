"""moto's server with one request at a time.

Real DynamoDB applies each request atomically (a conditional write or a TransactWriteItems either
sees another writer's result or is refused). moto's server handles requests on parallel threads
without a lock, so two concurrent conditional writes can both pass their conditions. The store
conformance tests race writers on purpose; serialising requests gives them DynamoDB's semantics.
Usage is moto_server's: `python moto_server_serial.py -H 127.0.0.1 -p PORT`.
"""

import threading

import moto.server as server

_one_at_a_time = threading.Lock()
_Dispatcher = server.DomainDispatcherApplication


class SerialDispatcher(_Dispatcher):
    def __call__(self, environ, start_response):
        with _one_at_a_time:
            # The whole body is produced inside the lock, so the request's effect is atomic.
            return list(super().__call__(environ, start_response))


server.DomainDispatcherApplication = SerialDispatcher

if __name__ == "__main__":
    server.main()
