// trace.cpp: see trace.hpp. The file is a JSON object {"traceEvents": [...]} in the Chrome trace
// event format: "M" events name each rank's row ("rank N", pid = rank) and its two threads
// (tid 1 application, tid 2 engine); "X" events are durations, "i" events instants; every message is
// a "send" slice on the sender and a "handle" slice on the receiver, joined by a flow ("s" on the
// sender, "f" with "bp":"e" on the receiver, the same id: sender rank << 40 | its send count).
// Rank 0 writes it at finalize with nlohmann-json, one event object at a time (see event_stream).
#include "base/trace.hpp"

#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/log.hpp"

namespace dsm::rt::trace {

unsigned g_watch = 0;

namespace {

struct event {
  std::int64_t start;
  std::int64_t end;
  std::uint64_t id;
  std::uint64_t bytes;
  std::uint64_t seq;
  std::int32_t peer;
  std::uint16_t kind;
  std::uint16_t type;  // msg, for messages
  std::uint8_t tid;    // 1 application, 2 engine
  std::uint8_t box;    // destination inbox, for messages
  std::uint8_t pad[6];
};

struct recorder {
  std::string path;
  std::string model;
  int rank = 0;
  int ranks = 1;
  std::unique_ptr<event[]> events;  // default-initialised: pages are committed as they are used
  std::uint64_t capacity = 0;
  std::atomic<std::uint64_t> next{0};
  std::int64_t offset = 0;  // add to now() for rank 0's clock, then subtract origin
  std::int64_t origin = 0;
  type_namer name_type = nullptr;
};
recorder g_rec;
thread_local std::uint8_t t_tid = 1;

const char* const kNames[] = {"read miss",     "write miss",     "fetch",         "twin",
                              "diff created",  "diff applied",   "invalidate",    "acquire",
                              "release",       "barrier",        "barrier: flush", "barrier: wait",
                              "barrier: apply", "barrier: collect", "send",        "handle",
                              "wait",          "notify"};
static_assert(sizeof kNames / sizeof kNames[0] == static_cast<size_t>(ev::kCount));

const char* id_label(ev e) {
  switch (e) {
    case ev::acquire: case ev::release: return "lock";
    case ev::barrier: case ev::barrier_flush: case ev::barrier_wait: case ev::barrier_apply: case ev::barrier_collect:
      return "number";
    case ev::send: case ev::handle: return "id";
    case ev::cv_wait: case ev::cv_notify: return "condition variable";
    default: return "unit";
  }
}

// What the other rank of an event is to it.
const char* peer_label(ev e) {
  switch (e) {
    case ev::acquire: case ev::cv_wait: case ev::cv_notify: return "manager";
    case ev::fetch: return "from";
    case ev::diff_applied: return "writer";
    case ev::invalidate: return "by";
    default: return "rank";
  }
}

bool is_duration(ev e) {
  switch (e) {
    case ev::fetch: case ev::twin: case ev::diff_created: case ev::diff_applied: case ev::invalidate: return false;
    default: return true;
  }
}

void store(const event& e) noexcept {
  const std::uint64_t i = g_rec.next.fetch_add(1, std::memory_order_relaxed);
  if (i < g_rec.capacity) g_rec.events[i] = e;
}

// "acquire lock 3 ...", "acquire lock 3 done in 12.5 us", "invalidate unit 17 (rank 1)".
void debug_line(ev e, std::uint64_t id, int peer, bool begin, std::int64_t ns) {
  char peer_text[32] = "";
  if (peer >= 0) std::snprintf(peer_text, sizeof peer_text, " (%s rank %d)", peer_label(e), peer);
  char tail[48] = "";
  if (begin) std::snprintf(tail, sizeof tail, " ...");
  else if (ns >= 0) std::snprintf(tail, sizeof tail, " done in %.1f us", static_cast<double>(ns) / 1e3);
  log(log_level::debug, "%s %s %llu%s%s", name(e), id_label(e), static_cast<unsigned long long>(id), peer_text, tail);
}

}  // namespace

const char* name(ev e) noexcept {
  const auto i = static_cast<size_t>(e);
  return i < static_cast<size_t>(ev::kCount) ? kNames[i] : "?";
}

std::int64_t now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void set_engine_thread() noexcept { t_tid = 2; }

namespace {
// The fields every event has; message() adds the message's own.
event make_event(ev e, std::int64_t start, std::int64_t end, std::uint64_t id, int peer, std::uint64_t bytes) noexcept {
  event x{};
  x.start = start;
  x.end = end;
  x.id = id;
  x.bytes = bytes;
  x.peer = peer;
  x.kind = static_cast<std::uint16_t>(e);
  x.tid = t_tid;
  return x;
}
}  // namespace

void record(ev e, std::int64_t start, std::int64_t end, std::uint64_t id, int peer, std::uint64_t bytes) noexcept {
  if (g_watch & kTrace) store(make_event(e, start, end, id, peer, bytes));
  if (g_watch & kDebugLog) debug_line(e, id, peer, false, is_duration(e) ? end - start : -1);
}

void message(ev e, std::int64_t start, std::int64_t end, int peer, std::uint16_t type, std::uint8_t box,
             std::uint64_t seq, std::uint64_t id, std::uint64_t bytes) noexcept {
  if (g_watch & kTrace) {
    event x = make_event(e, start, end, id, peer, bytes);
    x.seq = seq;
    x.type = type;
    x.box = box;
    store(x);
  }
  if (g_watch & kDebugLog) {
    log(log_level::debug, "%s %s %s rank %d (id %llu, %llu bytes)", e == ev::send ? "send" : "handle",
        g_rec.name_type(type), e == ev::send ? "to" : "from", peer, static_cast<unsigned long long>(id),
        static_cast<unsigned long long>(bytes));
  }
}

void begin_line(ev e, std::uint64_t id, int peer) noexcept { debug_line(e, id, peer, true, -1); }

void start(MPI_Comm comm, int rank, int ranks, const std::string& path, bool debug_log, std::uint64_t capacity,
           const std::string& model, type_namer name_type) {
  g_rec.name_type = name_type;
  g_rec.rank = rank;
  g_rec.ranks = ranks;
  g_rec.path = path;
  g_rec.model = model;
  if (!path.empty()) {
    g_rec.capacity = capacity;
    g_rec.events.reset(new event[capacity]);
    g_rec.next = 0;
    // The clock: ranks on rank 0's node share its CLOCK_MONOTONIC; the others measure their offset
    // to it with a ping-pong, keeping the round with the shortest round trip.
    MPI_Comm node;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    int node_root = rank;  // the world rank of this node's first rank
    MPI_Bcast(&node_root, 1, MPI_INT, 0, node);
    MPI_Comm_free(&node);
    std::vector<int> roots(static_cast<size_t>(ranks));
    MPI_Allgather(&node_root, 1, MPI_INT, roots.data(), 1, MPI_INT, comm);
    constexpr int kTag = 7301, kRounds = 8;
    if (rank == 0) {
      for (int r = 1; r < ranks; ++r) {
        if (roots[static_cast<size_t>(r)] == 0) continue;
        for (int k = 0; k < kRounds; ++k) {
          std::int64_t t;
          MPI_Recv(&t, 1, MPI_INT64_T, r, kTag, comm, MPI_STATUS_IGNORE);
          t = now();
          MPI_Send(&t, 1, MPI_INT64_T, r, kTag, comm);
        }
      }
    } else if (roots[static_cast<size_t>(rank)] != 0) {
      std::int64_t best_rtt = INT64_MAX;
      for (int k = 0; k < kRounds; ++k) {
        std::int64_t t0 = now(), theirs = 0;
        MPI_Send(&t0, 1, MPI_INT64_T, 0, kTag, comm);
        MPI_Recv(&theirs, 1, MPI_INT64_T, 0, kTag, comm, MPI_STATUS_IGNORE);
        const std::int64_t t1 = now();
        if (t1 - t0 < best_rtt) {
          best_rtt = t1 - t0;
          g_rec.offset = theirs - (t0 + t1) / 2;
        }
      }
    }
    std::int64_t origin = now();
    MPI_Bcast(&origin, 1, MPI_INT64_T, 0, comm);
    g_rec.origin = origin;
  }
  g_watch = (path.empty() ? 0u : unsigned{kTrace}) | (debug_log ? unsigned{kDebugLog} : 0u);
}

namespace {

using json = nlohmann::ordered_json;  // members in the order written: "ph" first, as before

// Microseconds, the format's unit, from ns: 1234567 ns is 1234.567.
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

// The events go to the file one at a time as they are serialised: each is one small json object,
// dumped and written, so that the document (millions of events) is never whole in memory.
class event_stream {
 public:
  explicit event_stream(std::FILE* f) : f_(f) {}
  void put(const json& e) {
    text_.assign(first_ ? "" : ",\n");
    first_ = false;
    text_ += e.dump(-1, ' ', false, json::error_handler_t::replace);
    std::fwrite(text_.data(), 1, text_.size(), f_);
  }

 private:
  std::FILE* f_;
  bool first_ = true;
  std::string text_;
};

// One kind of event object, made once with its members in the format's order and refilled for each
// event of that kind (a json object made anew per event costs an allocation per member, and a trace
// can hold millions of events). The pointers are to its members, which stay put: nothing is added
// to the object after it is made.
struct shape {
  json doc;
  json* name = nullptr;
  json* pid = nullptr;
  json* tid = nullptr;
  json* ts = nullptr;
  json* dur = nullptr;     // durations
  json* id = nullptr;      // flows: the flow id; others: args' id (the id_label member)
  json* peer = nullptr;    // args' peer member (messages, and protocol events with a peer)
  json* bytes = nullptr;   // args' bytes
  explicit shape(json d) : doc(std::move(d)) {
    name = member(doc, "name");
    pid = member(doc, "pid");
    tid = member(doc, "tid");
    ts = member(doc, "ts");
    dur = member(doc, "dur");
    id = member(doc, "id");
  }
  static json* member(json& o, const char* key) {
    const auto it = o.find(key);
    return it == o.end() ? nullptr : &*it;
  }
  void fill(int p, int t, std::int64_t start, std::int64_t end) {
    *pid = p;
    *tid = t;
    *ts = us(start);
    if (dur != nullptr) *dur = us(end - start);
  }
};

// A message's slice: {"ph":"X","cat":"message","name":"send|handle <type>",...,"args":{"to"|"from":peer,"id","bytes"}}.
shape message_shape(bool out) {
  shape s(json{{"ph", "X"}, {"cat", "message"}, {"name", ""}, {"pid", 0}, {"tid", 0}, {"ts", 0.0}, {"dur", 0.0},
               {"args", {{out ? "to" : "from", 0}, {"id", 0}, {"bytes", 0}}}});
  json& args = s.doc["args"];
  s.peer = shape::member(args, out ? "to" : "from");
  s.id = shape::member(args, "id");
  s.bytes = shape::member(args, "bytes");
  return s;
}

// A message's end of its flow arrow: "s" on the sender, "f" with "bp":"e" on the receiver.
shape flow_shape(bool out) {
  json d = {{"ph", out ? "s" : "f"}, {"cat", "flow"}, {"name", ""}, {"id", 0}, {"pid", 0}, {"tid", 0}};
  if (!out) d["bp"] = "e";
  d["ts"] = 0.0;
  return shape(std::move(d));
}

// A protocol event: a duration ("X") or an instant ("i"), its args the id under the kind's label,
// then the peer under its label if it has one, then the bytes if any.
shape protocol_shape(ev k, bool with_peer, bool with_bytes) {
  json d = is_duration(k) ? json{{"ph", "X"}, {"cat", "protocol"}, {"name", name(k)}, {"pid", 0}, {"tid", 0},
                                 {"ts", 0.0}, {"dur", 0.0}}
                          : json{{"ph", "i"}, {"s", "t"}, {"cat", "protocol"}, {"name", name(k)}, {"pid", 0},
                                 {"tid", 0}, {"ts", 0.0}};
  json args = {{id_label(k), 0}};
  if (with_peer) args[peer_label(k)] = 0;
  if (with_bytes) args["bytes"] = 0;
  d["args"] = std::move(args);
  shape s(std::move(d));
  json& a = s.doc["args"];
  s.id = shape::member(a, id_label(k));
  if (with_peer) s.peer = shape::member(a, peer_label(k));
  if (with_bytes) s.bytes = shape::member(a, "bytes");
  return s;
}

// The document's head, {"displayTimeUnit":...,"otherData":{...},"traceEvents":[ : the dump of the
// document with an empty event list, less its closing "]}", which write_file's last line writes;
// then the names of the ranks and their threads.
void write_head(std::FILE* f, event_stream& out) {
  std::string head = json{{"displayTimeUnit", "ns"},
                          {"otherData", {{"model", g_rec.model}, {"ranks", g_rec.ranks}}},
                          {"traceEvents", json::array()}}
                         .dump(-1, ' ', false, json::error_handler_t::replace);
  head.resize(head.size() - 2);
  head += "\n";
  std::fputs(head.c_str(), f);
  for (int r = 0; r < g_rec.ranks; ++r) {
    out.put({{"ph", "M"}, {"pid", r}, {"tid", 1}, {"name", "process_name"}, {"args", {{"name", "rank " + std::to_string(r)}}}});
    out.put({{"ph", "M"}, {"pid", r}, {"tid", 1}, {"name", "process_sort_index"}, {"args", {{"sort_index", r}}}});
    out.put({{"ph", "M"}, {"pid", r}, {"tid", 1}, {"name", "thread_name"}, {"args", {{"name", "application"}}}});
    out.put({{"ph", "M"}, {"pid", r}, {"tid", 2}, {"name", "thread_name"}, {"args", {{"name", "engine"}}}});
  }
}

// Flow ids by channel (sender, receiver, inbox) and message number: the sender's rank << 40 | its
// count of sends. The receiver's event names the same channel and number.
using flow_map = std::map<std::tuple<int, int, int, std::uint64_t>, std::uint64_t>;
flow_map flow_ids(const std::vector<event>& all, const std::vector<int>& owner) {
  flow_map flows;
  std::vector<std::uint64_t> sends(static_cast<size_t>(g_rec.ranks), 0);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const event& e = all[i];
    if (static_cast<ev>(e.kind) != ev::send) continue;
    const int src = owner[i];
    const std::uint64_t id = (static_cast<std::uint64_t>(src) << 40) | ++sends[static_cast<size_t>(src)];
    flows[{src, e.peer, e.box, e.seq}] = id;
  }
  return flows;
}

void write_file(const std::vector<event>& all, const std::vector<int>& owner, const std::vector<std::uint64_t>& dropped) {
  std::FILE* f = std::fopen(g_rec.path.c_str(), "w");
  if (f == nullptr) {
    DSM_LOG(error, "DSM_TRACE: cannot write %s: %s", g_rec.path.c_str(), std::strerror(errno));
    return;
  }
  event_stream out(f);
  write_head(f, out);
  const flow_map flows = flow_ids(all, owner);
  shape messages[2] = {message_shape(false), message_shape(true)};  // [out]
  shape flow_ends[2] = {flow_shape(false), flow_shape(true)};
  std::map<unsigned, shape> protocol;  // by kind << 2 | peer? << 1 | bytes?
  std::uint64_t unmatched = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const event& e = all[i];
    const int pid = owner[i];
    const ev k = static_cast<ev>(e.kind);
    if (k == ev::send || k == ev::handle) {
      const bool out_going = k == ev::send;
      const char* type = g_rec.name_type(e.type);
      shape& m = messages[out_going];
      m.fill(pid, e.tid, e.start, e.end);
      m.name->get_ref<std::string&>().assign(out_going ? "send " : "handle ").append(type);
      *m.peer = e.peer;
      *m.id = e.id;
      *m.bytes = e.bytes;
      out.put(m.doc);
      auto it = out_going ? flows.find({pid, e.peer, e.box, e.seq}) : flows.find({e.peer, pid, e.box, e.seq});
      if (it == flows.end()) {
        ++unmatched;  // its sender's events were dropped
        continue;
      }
      shape& fl = flow_ends[out_going];
      fl.fill(pid, e.tid, e.start, e.start);
      fl.name->get_ref<std::string&>().assign(type);
      *fl.id = it->second;
      out.put(fl.doc);
      continue;
    }
    const bool with_peer = e.peer >= 0, with_bytes = e.bytes > 0;
    const unsigned key = static_cast<unsigned>(e.kind) << 2 | unsigned{with_peer} << 1 | unsigned{with_bytes};
    auto at = protocol.find(key);
    if (at == protocol.end()) at = protocol.emplace(key, protocol_shape(k, with_peer, with_bytes)).first;
    shape& x = at->second;
    x.fill(pid, e.tid, e.start, e.end);
    *x.id = e.id;
    if (with_peer) *x.peer = e.peer;
    if (with_bytes) *x.bytes = e.bytes;
    out.put(x.doc);
  }
  std::fputs("\n]}\n", f);
  const bool ok = std::fflush(f) == 0;
  std::fclose(f);
  std::uint64_t lost = 0;
  for (auto d : dropped) lost += d;
  if (!ok) DSM_LOG(error, "DSM_TRACE: writing %s failed", g_rec.path.c_str());
  if (lost > 0) {
    DSM_LOG(warn, "DSM_TRACE: %llu event(s) dropped past DSM_TRACE_EVENTS=%llu per rank; %llu handled message(s) lost their send",
        static_cast<unsigned long long>(lost), static_cast<unsigned long long>(g_rec.capacity),
        static_cast<unsigned long long>(unmatched));
  }
  DSM_LOG(info, "DSM_TRACE: wrote %zu events of %d rank(s) to %s", all.size(), g_rec.ranks, g_rec.path.c_str());
}

}  // namespace

void finish(MPI_Comm comm) {
  const unsigned was = g_watch;
  g_watch = 0;
  if (!(was & kTrace)) return;
  const std::uint64_t recorded = g_rec.next.load();
  const std::uint64_t kept = std::min(recorded, g_rec.capacity);
  // Times on rank 0's clock, from its origin.
  for (std::uint64_t i = 0; i < kept; ++i) {
    g_rec.events[i].start += g_rec.offset - g_rec.origin;
    g_rec.events[i].end += g_rec.offset - g_rec.origin;
  }
  const int ranks = g_rec.ranks;
  long long mine[2] = {static_cast<long long>(kept), static_cast<long long>(recorded - kept)};
  std::vector<long long> counts(static_cast<size_t>(2 * ranks));
  MPI_Gather(mine, 2, MPI_LONG_LONG, counts.data(), 2, MPI_LONG_LONG, 0, comm);
  // In chunks of events, so that no count passes INT_MAX bytes.
  std::vector<event> all;
  std::vector<int> owner;
  std::vector<std::uint64_t> dropped;
  if (g_rec.rank == 0) {
    std::uint64_t total = 0;
    for (int r = 0; r < ranks; ++r) total += static_cast<std::uint64_t>(counts[static_cast<size_t>(2 * r)]);
    all.resize(total);
    owner.resize(total);
    std::uint64_t at = 0;
    for (int r = 0; r < ranks; ++r) {
      const auto n = static_cast<std::uint64_t>(counts[static_cast<size_t>(2 * r)]);
      dropped.push_back(static_cast<std::uint64_t>(counts[static_cast<size_t>(2 * r + 1)]));
      if (r == 0) {
        std::memcpy(all.data(), g_rec.events.get(), n * sizeof(event));
      } else {
        constexpr std::uint64_t kChunk = (1u << 30) / sizeof(event);
        for (std::uint64_t done = 0; done < n; done += kChunk) {
          const std::uint64_t m = std::min(kChunk, n - done);
          MPI_Recv(all.data() + at + done, static_cast<int>(m * sizeof(event)), MPI_BYTE, r, 7302, comm, MPI_STATUS_IGNORE);
        }
      }
      for (std::uint64_t i = 0; i < n; ++i) owner[at + i] = r;
      at += n;
    }
    write_file(all, owner, dropped);
  } else {
    constexpr std::uint64_t kChunk = (1u << 30) / sizeof(event);
    for (std::uint64_t done = 0; done < kept; done += kChunk) {
      const std::uint64_t m = std::min(kChunk, kept - done);
      MPI_Send(g_rec.events.get() + done, static_cast<int>(m * sizeof(event)), MPI_BYTE, 0, 7302, comm);
    }
  }
  g_rec.events.reset();
  g_rec.capacity = 0;
  MPI_Barrier(comm);  // the file is complete when finalize returns on any rank
}

}  // namespace dsm::rt::trace
