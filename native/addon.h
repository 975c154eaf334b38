// The functions the addon exports; one file per concern implements them.
#pragma once
#include <napi.h>

namespace immortal {

Napi::Value Spawn(const Napi::CallbackInfo& info);      // spawn.cc
Napi::Value Pipe(const Napi::CallbackInfo& info);       // spawn.cc
Napi::Value LookupUser(const Napi::CallbackInfo& info); // user.cc
Napi::Value Reap(const Napi::CallbackInfo& info);       // reap.cc
Napi::Value WatchChildExits(const Napi::CallbackInfo& info);  // reap.cc
Napi::Value Kill(const Napi::CallbackInfo& info);       // process.cc
Napi::Value KillPg(const Napi::CallbackInfo& info);     // process.cc
Napi::Value Alive(const Napi::CallbackInfo& info);      // process.cc
Napi::Value Flock(const Napi::CallbackInfo& info);      // process.cc
Napi::Value SetSubreaper(const Napi::CallbackInfo& info);  // process.cc
Napi::Value PeerCred(const Napi::CallbackInfo& info);   // process.cc
Napi::Value TrimMalloc(const Napi::CallbackInfo& info); // memory.cc
Napi::Value UnmapFilePages(const Napi::CallbackInfo& info); // memory.cc
Napi::Value WatchExit(const Napi::CallbackInfo& info);  // watch.cc
Napi::Value WatchModes(const Napi::CallbackInfo& info); // watch.cc
// Child options, listening sockets, sd_notify, fds of other processes (H6).
Napi::Value RlimitNames(const Napi::CallbackInfo& info);      // limits.cc
Napi::Value BindTcpListener(const Napi::CallbackInfo& info);  // listen.cc
Napi::Value BindUnixListener(const Napi::CallbackInfo& info); // listen.cc
Napi::Value LocalPort(const Napi::CallbackInfo& info);        // listen.cc
Napi::Value LocalAddress(const Napi::CallbackInfo& info);     // listen.cc
Napi::Value CloseFd(const Napi::CallbackInfo& info);          // listen.cc
Napi::Value OpenNotifySocket(const Napi::CallbackInfo& info); // notify.cc
Napi::Value WatchNotify(const Napi::CallbackInfo& info);      // notify.cc
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info);       // pidfd.cc
Napi::Value Exec(const Napi::CallbackInfo& info);             // exec.cc
Napi::Value DirSignature(const Napi::CallbackInfo& info);     // dir_signature.cc
Napi::Value PrepareRestart(const Napi::CallbackInfo& info);   // prepared_restart.cc
Napi::Value CancelRestart(const Napi::CallbackInfo& info);    // prepared_restart.cc

void InitExitWatch(Napi::Env env, Napi::Object exports);  // watch.cc
void InitUnixListener(Napi::Env env, Napi::Object exports);  // unix-listener.cc
void InitLogCopier(Napi::Env env, Napi::Object exports);  // log_copier.cc

}  // namespace immortal
