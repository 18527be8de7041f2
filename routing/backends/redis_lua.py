"""Lua scripts: each routing step runs atomically inside Redis. ARGV[1] is the key prefix."""
from __future__ import annotations

import re

PRELUDE = r"""
local P = ARGV[1]
local function get(key) local v = redis.call('GET', key); if v then return cjson.decode(v) end; return nil end
local function put(key, doc) local raw = cjson.encode(doc); redis.call('SET', key, raw); return raw end
local function mget(keys)
  local out = {}
  for i = 1, #keys, 500 do
    local part = redis.call('MGET', unpack(keys, i, math.min(i + 499, #keys)))
    for _, v in ipairs(part) do table.insert(out, v) end
  end
  return out
end
local function num(x) if x == nil or x == cjson.null then return 0 end; return tonumber(x) end
local function nonnull(x) if x == cjson.null then return nil end; return x end
local function effcap(a, ch)
  local cap = num(a.cap[ch])
  local occ = nonnull(a.occ) or {}
  if ch ~= 'voice' and num(a.load.voice) > 0 and occ[ch] ~= nil then cap = math.min(cap, num(occ[ch])) end
  return cap
end
local function freecap(a, ch)
  if ch == 'voice' and num(a.wrapping) > 0 then return 0 end
  return math.max(0, effcap(a, ch) - num(a.load[ch]))
end
-- Free agents per channel: a set, plus sorted sets in longest-idle and round-robin order.
local function unfree(id, ch)
  redis.call('SREM', P .. 'free:' .. ch, id)
  redis.call('ZREM', P .. 'rank:' .. ch .. ':longest_idle', id)
  redis.call('ZREM', P .. 'rank:' .. ch .. ':round_robin', id)
end
-- The channels an agent is free on as its document says (`freeon` of the document as read: the free sets and
-- ranks hold exactly that, putagent being the only writer of agent documents).
local function freeon(a)
  local on = {}
  if a.presence == 'available' then
    for ch, _ in pairs(a.cap) do if freecap(a, ch) > 0 then on[ch] = true end end
  end
  return on
end
-- `raw`: the agent encoded already (it is not changed since); `was`: `freeon` of the agent as read, if known:
-- a channel it was not free on and still is not needs no SREM and ZREMs (a busy agent that stays busy).
local function putagent(a, raw, was)
  raw = raw or cjson.encode(a)
  redis.call('SET', P .. 'a:' .. a.id, raw)
  for ch, _ in pairs(a.cap) do
    if a.presence == 'available' and freecap(a, ch) > 0 then
      redis.call('SADD', P .. 'free:' .. ch, a.id)
      redis.call('ZADD', P .. 'rank:' .. ch .. ':longest_idle', tostring(num(a.last_busy)), a.id)
      redis.call('ZADD', P .. 'rank:' .. ch .. ':round_robin', tostring(num(a.rr)), a.id)
    elseif not was or was[ch] then unfree(a.id, ch) end
  end
  return raw
end
-- Free agents of a channel: the first `limit` in policy order if ranked, else all; and whether more exist.
local function pool(ch, policy, limit)
  local ids, partial
  if limit > 0 and (policy == 'longest_idle' or policy == 'round_robin') then
    local key = P .. 'rank:' .. ch .. ':' .. policy
    ids = redis.call('ZRANGE', key, 0, limit - 1)
    partial = redis.call('ZCARD', key) > limit
  else
    ids = redis.call('SMEMBERS', P .. 'free:' .. ch)
    partial = false
  end
  local keys = {}
  for i, id in ipairs(ids) do keys[i] = P .. 'a:' .. id end
  return mget(keys), partial
end
local function addload(a, ch, by) a.load[ch] = math.max(0, num(a.load[ch]) + by) end
local function bump(now, t, metric, by, ismax)
  local key = P .. 'st:' .. math.floor(now / 86400)
  for _, f in ipairs({'q:' .. t.queue .. ':' .. metric, 'c:' .. t.channel .. ':' .. metric}) do
    if ismax then
      local cur = tonumber(redis.call('HGET', key, f) or '0')
      if by > cur then redis.call('HSET', key, f, tostring(by)) end
    else redis.call('HINCRBYFLOAT', key, f, tostring(by)) end
  end
end
-- A count (`by` the string '1' or '0'): HINCRBY, a third of HINCRBYFLOAT's time with no number to format.
-- These fields only ever hold whole numbers, which both commands write alike.
local function count(now, t, metric, by)
  local key = P .. 'st:' .. math.floor(now / 86400)
  redis.call('HINCRBY', key, 'q:' .. t.queue .. ':' .. metric, by)
  redis.call('HINCRBY', key, 'c:' .. t.channel .. ':' .. metric, by)
end
local function qkey(t) return P .. 'q:' .. t.queue .. ':' .. t.channel end
local function end_offer(o, status, now)
  redis.call('DEL', P .. 'o:' .. o.id)
  redis.call('SREM', P .. 'ao:' .. o.agent, o.id)
  redis.call('SREM', P .. 'to:' .. o.task, o.id)
  redis.call('ZREM', P .. 'due', 'o:' .. o.id)
  if status ~= 'accepted' then
    local a = get(P .. 'a:' .. o.agent)
    if a then addload(a, o.channel, -1); putagent(a) end
    local t = get(P .. 't:' .. o.task)
    if t then count(now, t, status, '1') end
  end
  o.status = status
  return o
end
local function reopen(task_id, declined, now)
  local t = get(P .. 't:' .. task_id)
  if not t or (t.state ~= 'pending' and t.state ~= 'reserved') then return nil end
  t.offers = math.max(0, num(t.offers) - 1)
  if declined then table.insert(t.declined, declined); t.declined_at = now end
  if t.offers == 0 then t.state = 'pending'; redis.call('ZADD', qkey(t), t.zs, t.m) end
  put(P .. 't:' .. task_id, t)
  if t.state == 'pending' then return t end
  return nil
end
local function rescind_agent(agent_id, now)
  local ended, requeued = {}, {}
  for _, oid in ipairs(redis.call('SMEMBERS', P .. 'ao:' .. agent_id)) do
    local o = get(P .. 'o:' .. oid)
    if o then
      table.insert(ended, end_offer(o, 'rescinded', now))
      local t = reopen(o.task, nil)
      if t then table.insert(requeued, t) end
    end
  end
  return ended, requeued
end
local function finish(t, state)
  redis.call('DEL', P .. 't:' .. t.id, P .. 'to:' .. t.id)
  -- A finished id stays known an hour: a late re-add (a sweeper or a starting process that read the
  -- database before the finish was stored) must not offer the task a second time.
  redis.call('SET', P .. 'done:' .. t.id, state, 'EX', 3600)
  redis.call('SREM', P .. 'open', t.id)
  if nonnull(t.agent) then redis.call('SREM', P .. 'aa:' .. t.agent, t.id) end
  if nonnull(t.owner) then redis.call('SREM', P .. 'own:' .. t.owner, t.id) end
  t.state = state
end
-- One offer made inside a script (RESERVE, ADD_TASK's own match): the task reserved, the agent loaded.
-- A task ADD_TASK matches at once (state 'new') was never queued: written here once, reserved.
-- `was`: as putagent's, for an agent not stored since it was read.
local function reserve_one(tkey, t, a, o, raw, was)
  if t.state == 'pending' then redis.call('ZREM', qkey(t), t.m) end
  t.state = 'reserved'; t.offers = num(t.offers) + 1; put(tkey, t)
  addload(a, o.channel, 1); a.rr = redis.call('INCR', P .. 'seq'); putagent(a, nil, was)
  redis.call('SET', P .. 'o:' .. o.id, raw)
  redis.call('SADD', P .. 'ao:' .. o.agent, o.id)
  redis.call('SADD', P .. 'to:' .. o.task, o.id)
  redis.call('ZADD', P .. 'due', tostring(o.expires), 'o:' .. o.id)
end
-- Whether a free agent (from the channel's rank) may take a task that needs no judgement beyond this:
-- queue membership, a line on the channel, the skills, room. The engine checks again in Python (choose).
local function fits(a, t)
  if a.presence ~= 'available' or freecap(a, t.channel) <= 0 or num(a.cap[t.channel]) <= 0 then return false end
  local queues = nonnull(a.queues) or {}
  if #queues > 0 then
    local member = false
    for _, q in ipairs(queues) do if q == t.queue then member = true end end
    if not member then return false end
  end
  local skills = nonnull(a.skills) or {}
  for skill, level in pairs(nonnull(t.skills) or {}) do
    if num(skills[skill]) < num(level) then return false end
  end
  return true
end
-- The first agent in `policy` order (a rank) that fits the task and has not declined it, walking the rank
-- a page at a time: the agents looked at (raw), the one found, and whether the walk judged alone (false:
-- an agent with working hours came first; time zones are for the engine). `held`, `heldraw`: an agent the
-- script has in hand as stored (COMPLETE's freed agent, usually the first free), not read again.
local function walk(t, policy, held, heldraw)
  local rank = P .. 'rank:' .. t.channel .. ':' .. policy
  local declined = {}
  for _, d in ipairs(nonnull(t.declined) or {}) do declined[d] = true end
  local seen, start, step = {}, 0, 8
  while true do
    local ids = redis.call('ZRANGE', rank, start, start + step - 1)
    if #ids == 0 then return seen, nil, true end
    for _, id in ipairs(ids) do
      local raw, a
      if held and id == held.id then raw, a = heldraw, held
      else raw = redis.call('GET', P .. 'a:' .. id) end
      if raw then
        a = a or cjson.decode(raw)
        if nonnull(a.hours) then return seen, nil, false end
        seen[#seen + 1] = raw
        if not declined[a.id] and fits(a, t) then return seen, a, true end
      end
    end
    start = start + step
  end
end
local function agentdocs(ids)
  local docs = {}
  for i, id in ipairs(ids) do docs[i] = redis.call('GET', P .. 'a:' .. id) or '' end
  return docs
end
"""

UPSERT_AGENT = r"""
local cfg = cjson.decode(ARGV[2]); local now = tonumber(ARGV[3])
local a = get(P .. 'a:' .. cfg.id)
local oldcap = {}
if a == nil then
  a = {presence = 'offline', load = {}, wrapping = 0, missed = 0, last_busy = now, rr = 0, recent = {}}
else oldcap = a.cap end
for k, v in pairs(cfg) do a[k] = v end
for ch, _ in pairs(oldcap) do if a.cap[ch] == nil then unfree(a.id, ch) end end
redis.call('SADD', P .. 'agents', a.id)
putagent(a)
return cjson.encode(a)
"""

SET_PRESENCE = r"""
local id, presence, reason, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local a = get(P .. 'a:' .. id)
if not a then return redis.error_reply('NOTFOUND no agent ' .. id) end
if reason == '' then reason = nil end
if presence == 'available' then
  if a.presence ~= 'available' then a.last_busy = now end
  a.presence = presence; a.reason = reason; a.missed = 0; putagent(a)
  return {cjson.encode(a), '[]', '[]'}
end
a.presence = presence; a.reason = reason; putagent(a)
local ended, requeued = rescind_agent(id, now)
return {redis.call('GET', P .. 'a:' .. id), cjson.encode(ended), cjson.encode(requeued)}
"""

CANDIDATES = r"""
local free, partial = pool(ARGV[2], ARGV[3], tonumber(ARGV[4]))
local named = {}
for i = 5, #ARGV do named[#named + 1] = redis.call('GET', P .. 'a:' .. ARGV[i]) or '' end
return {free, named, partial and 1 or 0}
"""

ADD_TASK = r"""
local t = cjson.decode(ARGV[2]); local now = tonumber(ARGV[4])
local key = P .. 't:' .. t.id
if redis.call('EXISTS', key) == 1 then return false end
-- Re-added from the database (ARGV[7]): not if routing finished it since the database was read.
if ARGV[7] == '1' and redis.call('EXISTS', P .. 'done:' .. t.id) == 1 then return false end
local seq = redis.call('INCR', P .. 'seq')
t.seq = seq; t.zs = ARGV[3]; t.score = tonumber(ARGV[3]); t.m = string.format('%012d|%s', seq, t.id)
t.state = 'pending'; t.offers = 0; t.declined = {}
redis.call('SADD', P .. 'open', t.id)
if nonnull(t.owner) then redis.call('SADD', P .. 'own:' .. t.owner, t.id) end
count(now, t, 'entered', '1')
-- ARGV[8..13]: an offer without an agent (id, channel, queue, created, expires, status): match here, in
-- policy order, and make it (one round trip in all). The agents looked at come back (the engine decides on
-- them again, for the record); an agent with working hours (a time zone: not for Lua) hands the decision
-- back to the engine with the usual pool. Matched, the task is written once, reserved: never queued.
if ARGV[8] ~= '' and (ARGV[5] == 'longest_idle' or ARGV[5] == 'round_robin') then
  local seen, a, judged = walk(t, ARGV[5])
  if a then
    local o = {id = ARGV[8], task = t.id, agent = a.id, channel = ARGV[9], queue = ARGV[10],
               created = tonumber(ARGV[11]), expires = tonumber(ARGV[12]), status = ARGV[13]}
    t.state = 'new'
    reserve_one(key, t, a, o, cjson.encode(o))
    return {tostring(seq), seen, a.id}
  end
  put(key, t)
  redis.call('ZADD', qkey(t), t.zs, t.m)
  if judged then return {tostring(seq), seen, ''} end
else
  put(key, t)
  redis.call('ZADD', qkey(t), t.zs, t.m)
end
-- The agents that could take it, read in the same step: saves the caller a round trip.
local free, partial = pool(t.channel, ARGV[5], tonumber(ARGV[6]))
local named = {}
if nonnull(t.owner) then named[1] = redis.call('GET', P .. 'a:' .. t.owner) or '' end
return {cjson.encode(t), free, named, partial and 1 or 0}
"""

PENDING = r"""
local offset, limit, channels = tonumber(ARGV[2]), tonumber(ARGV[3]), cjson.decode(ARGV[4])
local out = {}
for i = 5, #ARGV do
  local members = redis.call('ZRANGE', P .. 'q:' .. ARGV[i], offset, offset + limit - 1)
  local keys = {}
  for j, m in ipairs(members) do keys[j] = P .. 't:' .. string.sub(m, 14) end
  out[#out + 1] = mget(keys)
end
-- The free agents of each channel, read in the same step if there is work: the caller need not ask again.
local free = {}
local work = false
for _, page in ipairs(out) do if #page > 0 then work = true end end
if work then
  for _, ch in ipairs(channels) do
    free[#free + 1] = ch
    free[#free + 1] = pool(ch, '', 0)
  end
end
return {out, free}
"""

POP_DUE = r"""
local due = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', ARGV[2])
for i = 1, #due, 500 do redis.call('ZREM', P .. 'due', unpack(due, i, math.min(i + 499, #due))) end
return due
"""

MEMBER_DOCS = r"""
local ids = redis.call('SMEMBERS', P .. ARGV[2])
local keys = {}
for i, id in ipairs(ids) do keys[i] = P .. ARGV[3] .. id end
return mget(keys)
"""

SNAPSHOT = r"""
local function docs(setkey, prefix)
  local keys = {}
  for i, id in ipairs(redis.call('SMEMBERS', P .. setkey)) do keys[i] = P .. prefix .. id end
  return mget(keys)
end
local agents = docs('agents', 'a:')
local offers = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'agents')) do
  for _, v in ipairs(docs('ao:' .. id, 'o:')) do table.insert(offers, v) end
end
return {agents, docs('open', 't:'), offers, redis.call('HGETALL', P .. 'st:' .. ARGV[2])}
"""


def _chunks(prelude: str) -> list[tuple[str | None, str]]:
    """PRELUDE cut into its top-level pieces: each function with the comment above it, or a statement."""
    chunks: list[tuple[str | None, list[str]]] = []

    def comment_only() -> bool:
        return bool(chunks) and chunks[-1][0] is None and all(x.startswith("--") for x in chunks[-1][1])
    for line in prelude.strip("\n").split("\n"):
        defined = re.match(r"local function (\w+)", line)
        if line.startswith("--"):
            if comment_only():
                chunks[-1][1].append(line)
            else:
                chunks.append((None, [line]))
        elif defined and comment_only():
            chunks[-1] = (defined.group(1), chunks[-1][1] + [line])
        elif defined or not line.startswith((" ", "end")):
            chunks.append((defined.group(1) if defined else None, [line]))
        else:
            chunks[-1][1].append(line)
    return [(name, "\n".join(lines)) for name, lines in chunks]


def _calls(text: str, names: set[str]) -> set[str]:
    return {name for name in names if re.search(rf"(?<![\w.:]){name}\s*\(", text)}


def script(body: str, prelude: str = PRELUDE) -> str:
    """`body` after the PRELUDE functions it calls (and those they call), in PRELUDE's order: Redis runs
    a script's every `local function` statement on every call, about 3 us for all of PRELUDE's, as much
    as a few of the commands a decision sends."""
    chunks = _chunks(prelude)
    names = {name for name, _ in chunks if name}
    needed = _calls(body, names)
    while True:
        more = needed | {called for name, text in chunks if name in needed for called in _calls(text, names - {name})}
        if more == needed:
            break
        needed = more
    kept = [text for name, text in chunks if name is None or name in needed]
    return "\n" + "\n".join(kept) + "\n" + body
