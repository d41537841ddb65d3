#pragma once
// The shape every transaction takes, for both database engines (sqlite_backend.cpp,
// pg_connection.cpp): one begun inside another joins it; otherwise begin, run the body and
// commit, or on any exception roll back and rethrow the original error (a rollback that fails
// too, e.g. on a lost connection, is not what counts).
#include <functional>

namespace dd::service {

inline void run_transaction(bool& open, const std::function<void()>& body,
                            const std::function<void()>& begin, const std::function<void()>& commit,
                            const std::function<void()>& rollback_quietly) {
  if (open) {
    body();
    return;
  }
  begin();
  open = true;
  try {
    body();
    open = false;
    commit();
  } catch (...) {
    open = false;
    rollback_quietly();
    throw;
  }
}

}  // namespace dd::service
