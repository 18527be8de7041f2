"""Lua scripts: each routing step runs atomically inside Redis. ARGV[1] is the key prefix."""
from __future__ import annotations

PRELUDE = r"""
local P = ARGV[1]
local function get(key) local v = redis.call('GET', key); if v then return cjson.decode(v) end; return nil end
local function put(key, doc) redis.call('SET', key, cjson.encode(doc)) end
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
local function putagent(a)
  put(P .. 'a:' .. a.id, a)
  for ch, _ in pairs(a.cap) do
    if a.presence == 'available' and freecap(a, ch) > 0 then redis.call('SADD', P .. 'free:' .. ch, a.id)
    else redis.call('SREM', P .. 'free:' .. ch, a.id) end
  end
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
    if t then bump(now, t, status, 1) end
  end
  o.status = status
  return o
end
local function reopen(task_id, declined)
  local t = get(P .. 't:' .. task_id)
  if not t or (t.state ~= 'pending' and t.state ~= 'reserved') then return nil end
  t.offers = math.max(0, num(t.offers) - 1)
  if declined then table.insert(t.declined, declined) end
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
  redis.call('SREM', P .. 'open', t.id)
  if nonnull(t.agent) then redis.call('SREM', P .. 'aa:' .. t.agent, t.id) end
  if nonnull(t.owner) then redis.call('SREM', P .. 'own:' .. t.owner, t.id) end
  t.state = state
end
local function mget(keys)
  local out = {}
  for i = 1, #keys, 500 do
    local part = redis.call('MGET', unpack(keys, i, math.min(i + 499, #keys)))
    for _, v in ipairs(part) do table.insert(out, v) end
  end
  return out
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
for ch, _ in pairs(oldcap) do if a.cap[ch] == nil then redis.call('SREM', P .. 'free:' .. ch, a.id) end end
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
local ids = redis.call('SMEMBERS', P .. 'free:' .. ARGV[2])
local keys = {}
for i, id in ipairs(ids) do keys[i] = P .. 'a:' .. id end
local named = {}
for i = 3, #ARGV do named[#named + 1] = redis.call('GET', P .. 'a:' .. ARGV[i]) or '' end
return {mget(keys), named}
"""

ADD_TASK = r"""
local t = cjson.decode(ARGV[2]); local now = tonumber(ARGV[4])
local key = P .. 't:' .. t.id
if redis.call('EXISTS', key) == 1 then return false end
local seq = redis.call('INCR', P .. 'seq')
t.seq = seq; t.zs = ARGV[3]; t.score = tonumber(ARGV[3]); t.m = string.format('%012d|%s', seq, t.id)
t.state = 'pending'; t.offers = 0; t.declined = {}
put(key, t)
redis.call('SADD', P .. 'open', t.id)
redis.call('ZADD', qkey(t), t.zs, t.m)
if nonnull(t.owner) then redis.call('SADD', P .. 'own:' .. t.owner, t.id) end
bump(now, t, 'entered', 1)
-- The agents that could take it, read in the same step: saves the caller a round trip.
local keys = {}
for i, id in ipairs(redis.call('SMEMBERS', P .. 'free:' .. t.channel)) do keys[i] = P .. 'a:' .. id end
local named = {}
if nonnull(t.owner) then named[1] = redis.call('GET', P .. 'a:' .. t.owner) or '' end
return {cjson.encode(t), mget(keys), named}
"""

PENDING = r"""
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV do
  local members = redis.call('ZRANGE', P .. 'q:' .. ARGV[i], offset, offset + limit - 1)
  local keys = {}
  for j, m in ipairs(members) do keys[j] = P .. 't:' .. string.sub(m, 14) end
  out[#out + 1] = mget(keys)
end
return out
"""

RESERVE = r"""
local tkey, maxp = P .. 't:' .. ARGV[2], tonumber(ARGV[3])
local made = {}
for i = 4, #ARGV do
  local o = cjson.decode(ARGV[i])
  local t = get(tkey)
  if not t or (t.state ~= 'pending' and t.state ~= 'reserved') or num(t.offers) >= maxp then break end
  local a = get(P .. 'a:' .. o.agent)
  local declined = false
  for _, d in ipairs(t.declined) do if d == o.agent then declined = true end end
  if a and a.presence == 'available' and freecap(a, o.channel) > 0 and not declined then
    if t.state == 'pending' then redis.call('ZREM', qkey(t), t.m) end
    t.state = 'reserved'; t.offers = num(t.offers) + 1; put(tkey, t)
    addload(a, o.channel, 1); a.rr = redis.call('INCR', P .. 'seq'); putagent(a)
    put(P .. 'o:' .. o.id, o)
    redis.call('SADD', P .. 'ao:' .. o.agent, o.id)
    redis.call('SADD', P .. 'to:' .. o.task, o.id)
    redis.call('ZADD', P .. 'due', tostring(o.expires), 'o:' .. o.id)
    table.insert(made, ARGV[i])
  end
end
return made
"""

ACCEPT = r"""
local now = tonumber(ARGV[4])
local o = get(P .. 'o:' .. ARGV[2])
if not o then return redis.error_reply('NOTPENDING offer ' .. ARGV[2] .. ' is not pending (unknown, or already ended)') end
if o.agent ~= ARGV[3] then return redis.error_reply('NOTYOURS offer ' .. ARGV[2] .. ' is not for agent ' .. ARGV[3]) end
local acc = end_offer(o, 'accepted', now)
local resc = {}
for _, oid in ipairs(redis.call('SMEMBERS', P .. 'to:' .. o.task)) do
  local x = get(P .. 'o:' .. oid)
  if x then table.insert(resc, end_offer(x, 'rescinded', now)) end
end
local t = get(P .. 't:' .. o.task)
t.state = 'assigned'; t.agent = o.agent; t.offers = 0; t.assigned_at = now
put(P .. 't:' .. t.id, t)
redis.call('SADD', P .. 'aa:' .. o.agent, t.id)
local a = get(P .. 'a:' .. o.agent)
a.missed = 0; a.last_busy = now
local keep = num(t.keep)
if keep > 0 then
  local recent = nonnull(a.recent) or {}
  local r = recent[t.queue] or {}
  table.insert(r, now)
  while #r > keep do table.remove(r, 1) end
  recent[t.queue] = r; a.recent = recent
end
putagent(a)
local waited = now - t.created
bump(now, t, 'assigned', 1)
if waited <= num(t.sl) then bump(now, t, 'sl_met', 1) else bump(now, t, 'sl_met', 0) end
bump(now, t, 'accept_sum', waited)
bump(now, t, 'accept_max', waited, true)
return {cjson.encode(t), cjson.encode(acc), cjson.encode(resc)}
"""

CLOSE_OFFER = r"""
local oid, status, now, agent, limit = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local o = get(P .. 'o:' .. oid)
if not o then
  if agent == '' then return false end
  return redis.error_reply('NOTPENDING offer ' .. oid .. ' is not pending (unknown, or already ended)')
end
if agent ~= '' and o.agent ~= agent then return redis.error_reply('NOTYOURS offer ' .. oid .. ' is not for agent ' .. agent) end
local ended = end_offer(o, status, now)
local requeued = {}
local t = reopen(o.task, o.agent)
if t then table.insert(requeued, t) end
local akey = P .. 'a:' .. o.agent
local a = get(akey)
if not a then return {cjson.encode(ended), cjson.encode(requeued), '', '[]'} end
a.missed = num(a.missed) + 1; putagent(a)
if limit <= 0 or a.missed < limit then return {cjson.encode(ended), cjson.encode(requeued), '', '[]'} end
a.presence = 'break'; a.reason = 'missed_offers'; a.missed = 0; putagent(a)
local others, more = rescind_agent(o.agent, now)
for _, x in ipairs(more) do table.insert(requeued, x) end
return {cjson.encode(ended), cjson.encode(requeued), redis.call('GET', akey), cjson.encode(others)}
"""

COMPLETE = r"""
local id, now = ARGV[2], tonumber(ARGV[3])
local t = get(P .. 't:' .. id)
if not t or t.state ~= 'assigned' or not nonnull(t.agent) then return redis.error_reply('INVALID task ' .. id .. ' is not assigned') end
local a = get(P .. 'a:' .. t.agent)
local wrap = 0
if t.channel == 'voice' then wrap = num(t.wrap) end
bump(now, t, 'completed', 1)
if a then addload(a, t.channel, -1) end
if wrap > 0 then
  if a then a.wrapping = num(a.wrapping) + 1; putagent(a) end
  t.state = 'wrapping'; put(P .. 't:' .. id, t)
  redis.call('ZADD', P .. 'due', tostring(now + wrap), 'w:' .. id)
  return {cjson.encode(t), '[]', '[]'}
end
if a then a.last_busy = now; putagent(a) end
finish(t, 'completed')
return {cjson.encode(t), '[]', cjson.encode({t.agent})}
"""

FINISH_WRAP = r"""
local id, now = ARGV[2], tonumber(ARGV[3])
local t = get(P .. 't:' .. id)
if not t or t.state ~= 'wrapping' or not nonnull(t.agent) then return false end
local a = get(P .. 'a:' .. t.agent)
if a then a.wrapping = math.max(0, num(a.wrapping) - 1); a.last_busy = now; putagent(a) end
finish(t, 'completed')
return {cjson.encode(t), '[]', cjson.encode({t.agent})}
"""

CANCEL = r"""
local id, now = ARGV[2], tonumber(ARGV[3])
local t = get(P .. 't:' .. id)
if not t then return redis.error_reply('NOTFOUND no live task ' .. id) end
local resc, freed = {}, {}
for _, oid in ipairs(redis.call('SMEMBERS', P .. 'to:' .. id)) do
  local o = get(P .. 'o:' .. oid)
  if o then table.insert(resc, end_offer(o, 'rescinded', now)); table.insert(freed, o.agent) end
end
if t.state == 'pending' then redis.call('ZREM', qkey(t), t.m) end
if t.state == 'pending' or t.state == 'reserved' then bump(now, t, 'abandoned', 1)
elseif nonnull(t.agent) then
  local a = get(P .. 'a:' .. t.agent)
  if a then
    if t.state == 'wrapping' then a.wrapping = math.max(0, num(a.wrapping) - 1) else addload(a, t.channel, -1) end
    a.last_busy = now; putagent(a)
    redis.call('ZREM', P .. 'due', 'w:' .. id)
    table.insert(freed, t.agent)
  end
end
finish(t, 'canceled')
return {cjson.encode(t), cjson.encode(resc), cjson.encode(freed)}
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
