// Module entry: registers the process-level functions Node cannot do itself.
#include "addon.h"

namespace {

Napi::Object InitImmortal(Napi::Env env, Napi::Object exports) {
  using namespace immortal;
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser, "lookupUser"));
  exports.Set("reap", Napi::Function::New(env, Reap, "reap"));
  exports.Set("watchChildExits", Napi::Function::New(env, WatchChildExits, "watchChildExits"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("killpg", Napi::Function::New(env, KillPg, "killpg"));
  exports.Set("alive", Napi::Function::New(env, Alive, "alive"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("setSubreaper", Napi::Function::New(env, SetSubreaper, "setSubreaper"));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
  exports.Set("trimMalloc", Napi::Function::New(env, TrimMalloc, "trimMalloc"));
  exports.Set("unmapFilePages", Napi::Function::New(env, UnmapFilePages, "unmapFilePages"));
  exports.Set("watchModes", Napi::Function::New(env, WatchModes, "watchModes"));
  // Child options, listening sockets, sd_notify, fds of other processes (H6).
  exports.Set("rlimitNames", Napi::Function::New(env, RlimitNames, "rlimitNames"));
  exports.Set("bindTcpListener", Napi::Function::New(env, BindTcpListener, "bindTcpListener"));
  exports.Set("bindUnixListener", Napi::Function::New(env, BindUnixListener, "bindUnixListener"));
  exports.Set("localPort", Napi::Function::New(env, LocalPort, "localPort"));
  exports.Set("localAddress", Napi::Function::New(env, LocalAddress, "localAddress"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("openNotifySocket", Napi::Function::New(env, OpenNotifySocket, "openNotifySocket"));
  exports.Set("watchNotify", Napi::Function::New(env, WatchNotify, "watchNotify"));
  exports.Set("pidfdGetfd", Napi::Function::New(env, PidfdGetfd, "pidfdGetfd"));
  exports.Set("exec", Napi::Function::New(env, Exec, "exec"));
  exports.Set("dirSignature", Napi::Function::New(env, DirSignature, "dirSignature"));
  exports.Set("prepareRestart", Napi::Function::New(env, PrepareRestart, "prepareRestart"));
  exports.Set("cancelRestart", Napi::Function::New(env, CancelRestart, "cancelRestart"));
  InitExitWatch(env, exports);
  InitUnixListener(env, exports);
  InitLogCopier(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(immortal, InitImmortal)
