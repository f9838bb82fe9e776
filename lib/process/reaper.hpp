#pragma once
// Reaping children that nobody waits for (private to the library).
//
// A process object destroyed before a wait saw its child end kills the child; the child is
// then a zombie until someone calls waitid for it, which may take a moment and must not block
// the loop thread. So its pidfd goes to one thread of the library that polls every such
// pidfd and reaps each child as it ends.

namespace ringo::detail {

/// Hands `pidfd` (of a child of this process, killed or about to end) to the reaper thread,
/// which reaps the child once it has ended and closes the pidfd. Starts the thread on first
/// use; if that fails, reaps the child here, waiting for it.
void reap_in_background(int pidfd) noexcept;

}  // namespace ringo::detail
