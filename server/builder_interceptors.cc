#include "server/builder_interceptors.h"

#include <iterator>
#include <utility>

namespace fixture::server {
namespace {

// The builder's own list (grpc::ServerBuilder::interceptor_creators_).
InterceptorCreators& InterceptorCreatorsOf(grpc::ServerBuilder& builder);

template <InterceptorCreators grpc::ServerBuilder::*Member>
struct InterceptorCreatorsAccess {
  friend InterceptorCreators& InterceptorCreatorsOf(grpc::ServerBuilder& builder) { return builder.*Member; }
};

// Access checking does not apply here (see the header).
template struct InterceptorCreatorsAccess<&grpc::ServerBuilder::interceptor_creators_>;

}  // namespace

void AddInterceptorCreatorsFirst(grpc::ServerBuilder& builder, InterceptorCreators creators) {
  InterceptorCreators& theirs = InterceptorCreatorsOf(builder);
  creators.insert(creators.end(), std::make_move_iterator(theirs.begin()), std::make_move_iterator(theirs.end()));
  theirs = std::move(creators);
}

}  // namespace fixture::server
