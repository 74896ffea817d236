"""Runs inside fixture_test (fixture's fixturectl, not the consumer's //tools):
both servers are up and answer on their control sockets."""

import unittest

import fixture_client


class ServersUpTest(unittest.TestCase):
    def test_both_servers_serve(self):
        for name, server in (("greeter", "greeter"), ("kv", "kv_server")):
            status = fixture_client.server(name).status()
            self.assertEqual(status.labels["server"], server, name)


if __name__ == "__main__":
    unittest.main()
