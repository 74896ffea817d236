"""The body of //tests/any_server:redis_fixture_test: a Python test against a
redis-server that the fixture_test macro started (ready by sd_notify, on a
reserved port), with its address from the environment."""
import os
import socket
import unittest


def command(*parts):
    host, port = os.environ["FIXTURE_REDIS_REDIS"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        request = "*%d\r\n" % len(parts) + "".join("$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        conn.sendall(request.encode())
        return conn.recv(4096).decode()


class RedisClientTest(unittest.TestCase):
    def test_round_trip(self):
        self.assertEqual(command("PING"), "+PONG\r\n")
        self.assertEqual(command("SET", "k", "v"), "+OK\r\n")
        self.assertEqual(command("GET", "k"), "$1\r\nv\r\n")

    def test_the_control_socket_is_served_for_it(self):
        self.assertTrue(os.environ["FIXTURE_REDIS_CONTROL"].startswith("unix:/"))


if __name__ == "__main__":
    unittest.main()
