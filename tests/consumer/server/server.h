// The consumer's own server/server.h, on purpose: fixture's server library is
// "fixture/server/server.h", and the two must not hide each other (fixture's
// headers include their own by the "fixture/" prefix).
#ifndef CONSUMER_SERVER_SERVER_H_
#define CONSUMER_SERVER_SERVER_H_

#include <string>

namespace consumer {

// The greeter's reply to `name`.
inline std::string Greeting(const std::string& name) { return "hello, " + name; }

}  // namespace consumer

#endif  // CONSUMER_SERVER_SERVER_H_
