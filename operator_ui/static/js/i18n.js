// A small dictionary per language; the user's locale (from /api/v1/config) picks one, English fills gaps.

const en = {
  'login.username': 'Username', 'login.password': 'Password', 'login.submit': 'Sign in',
  'login.failed': 'Wrong username or password', 'login.error': 'Could not sign in: {message}',
  'nav.logout': 'Sign out', 'nav.wallboard': 'Wallboard', 'nav.console': 'Console', 'nav.board': 'Board',
  'board.title': 'Board', 'board.pipeline': 'Pipeline', 'board.owner': 'Owner', 'board.anyone': 'Anyone', 'board.me': 'Me',
  'board.source': 'Source', 'board.any_source': 'Any', 'board.move_to': 'Move to…', 'board.nobody': 'nobody',
  'board.age': '{days} d in stage', 'board.overdue': 'Past the stage deadline', 'board.more': '{n} more',
  'board.refused': 'Not moved: {message}', 'board.lost_reason': 'Why was the deal lost?',
  'board.add_stage': 'Add a stage', 'board.stage_name': 'Name', 'board.stage_kind': 'Kind',
  'board.stage_required': 'Required fields', 'board.add': 'Add', 'board.kind.open': 'open', 'board.kind.won': 'won',
  'board.kind.lost': 'lost', 'board.kind.closed': 'closed',
  'presence.available': 'Available', 'presence.away': 'Away', 'presence.offline': 'Offline',
  'presence.break': 'Break', 'presence.lunch': 'Lunch', 'presence.training': 'Training',
  'presence.reason': 'reason: {reason}',
  'conn.lost': 'Connection lost — reconnecting…',
  'search.placeholder': 'Search clients and leads', 'search.go': 'Search',
  'leads.mine': 'My leads', 'leads.found': 'Found: {q}', 'leads.none': 'No leads.', 'leads.back': 'Back to my leads',
  'leads.unassigned': 'Unassigned', 'leads.take': 'Take',
  'work.empty': 'Pick a lead, or accept an incoming one.',
  'incoming.title': 'Incoming', 'incoming.none': 'Nothing is ringing.',
  'offer.title': 'New {channel} contact', 'offer.accept': 'Accept', 'offer.decline': 'Decline',
  'offer.expires': '{seconds} s left', 'offer.expired': 'time is up', 'offer.queue': 'Queue: {queue}',
  'call.ringing': 'Incoming call', 'call.answered': 'On the call', 'call.ended': 'Call ended',
  'call.missed': 'Missed call', 'call.talk': 'talked {duration}', 'call.did': 'dialled {did}',
  'call.open': 'Open lead', 'call.dismiss': 'Dismiss', 'call.start': 'Call',
  'call.outgoing': 'Your phone rings: calling', 'call.transfer': 'transferred from {from}',
  'call.started': 'Calling {number}…', 'call.failed': 'Call failed: {message}',
  'card.client': 'Client', 'card.unknown': 'Unknown client', 'card.owner': 'Owner', 'card.assignee': 'Assignee',
  'card.nobody': 'nobody', 'card.source': 'Source', 'card.open_leads': 'Other open leads',
  'card.timeline': 'Timeline', 'card.no_timeline': 'No messages yet.', 'card.identities': 'Contacts',
  'card.fields': 'Lead details', 'card.save_fields': 'Save form', 'card.saved': 'Saved',
  'card.notes': 'Notes', 'card.save_notes': 'Save notes', 'card.status': 'Status',
  'card.attachments': 'Attachments', 'card.lead': 'Lead #{id}', 'card.subject': 'Subject',
  'status.new': 'New', 'status.assigned': 'Assigned', 'status.in_progress': 'In progress',
  'status.won': 'Won', 'status.lost': 'Lost', 'status.closed': 'Closed',
  'close.lost_reason': 'Why was it lost?', 'close.outcome': 'Outcome', 'close.resolved': 'Resolved',
  'close.handed_over': 'Handed over', 'close.whom': 'Handed over to whom?', 'close.confirm': 'Confirm',
  'close.cancel': 'Cancel',
  'assign.title': 'Assign to', 'assign.me': 'Assign to me', 'assign.go': 'Assign', 'assign.user_id': 'User id',
  'assign.unassign': 'Unassign',
  'reply.placeholder': 'Reply to the client…', 'reply.send': 'Send', 'reply.sent': 'Delivered',
  'reply.failed': 'Not delivered: {message}', 'reply.sending': 'Sending…',
  'dir.inbound': 'client', 'dir.outbound': 'us', 'dir.internal': 'note',
  'delivery.sent': 'sent', 'delivery.failed': 'not delivered', 'delivery.pending': 'sending',
  'error.generic': 'Error: {message}', 'error.field': '{message}',
  'notify.title': 'Switchboard: {name}',
  'wb.title': 'Wallboard', 'wb.queues': 'Queues', 'wb.channels': 'Channels', 'wb.agents': 'Agents',
  'wb.chart': 'Last hour: waiting and service level', 'wb.updated': 'updated {time}',
  'wb.waiting': 'Waiting', 'wb.reserved': 'Ringing', 'wb.assigned': 'Assigned', 'wb.wrapping': 'Wrap-up',
  'wb.longest': 'Longest wait', 'wb.sl': 'Service level', 'wb.available': 'Available agents',
  'wb.eligible': 'Agents', 'wb.occupancy': 'Occupancy', 'wb.free': 'Free capacity',
  'wb.entered': 'Entered today', 'wb.assigned_today': 'Assigned today', 'wb.abandoned': 'Abandoned today',
  'wb.completed': 'Completed today', 'wb.avg_accept': 'Avg accept', 'wb.max_accept': 'Max accept',
  'wb.missed': 'Rejected / timed out / rescinded', 'wb.by_priority': 'Waiting by priority',
  'wb.by_activity': 'Agents by activity', 'wb.by_reason': 'Away reasons',
  'wb.channel': 'Channel', 'wb.queue': 'Queue', 'wb.name': 'Agent', 'wb.presence': 'Presence',
  'wb.activity': 'Activity', 'wb.load': 'Load', 'wb.since': 'Since', 'wb.handled': 'Handled', 'wb.missed_short': 'Missed',
  'wb.sla_at_risk': 'SLA at risk', 'wb.sla_breached': 'SLA breached',
  'wb.call': 'Current call', 'wb.callbacks': 'Missed calls awaiting callback', 'wb.abandon_rate': 'Abandon rate',
  'wb.forbidden': 'The wallboard is for managers, supervisors and admins.',
  'wb.legend_waiting': 'waiting', 'wb.legend_sl': 'service level %', 'wb.none': '—',
  'channel.form': 'form', 'channel.email': 'e-mail', 'channel.voice': 'call', 'channel.manual': 'manual',
  'channel.chat': 'chat', 'channel.telegram': 'Telegram', 'channel.whatsapp': 'WhatsApp', 'channel.viber': 'Viber', 'channel.vk': 'VK',
  'activity.idle': 'idle', 'activity.busy': 'busy', 'activity.on_call': 'on a call', 'activity.wrap_up': 'wrap-up',
  'activity.offline': 'offline', 'activity.away': 'away', 'activity.available': 'available', 'activity.break': 'break',
  'activity.lunch': 'lunch', 'activity.training': 'training',
  'role.operator': 'operator', 'role.manager': 'manager', 'role.supervisor': 'supervisor', 'role.admin': 'admin',
};

const ru = {
  'login.username': 'Логин', 'login.password': 'Пароль', 'login.submit': 'Войти',
  'login.failed': 'Неверный логин или пароль', 'login.error': 'Не удалось войти: {message}',
  'nav.logout': 'Выйти', 'nav.wallboard': 'Табло', 'nav.console': 'Рабочее место', 'nav.board': 'Воронка',
  'board.title': 'Воронка', 'board.pipeline': 'Воронка', 'board.owner': 'Ответственный', 'board.anyone': 'Все', 'board.me': 'Я',
  'board.source': 'Источник', 'board.any_source': 'Любой', 'board.move_to': 'Перенести в…', 'board.nobody': 'никто',
  'board.age': '{days} дн. на этапе', 'board.overdue': 'Срок этапа истёк', 'board.more': 'ещё {n}',
  'board.refused': 'Не перенесено: {message}', 'board.lost_reason': 'Почему сделка проиграна?',
  'board.add_stage': 'Добавить этап', 'board.stage_name': 'Название', 'board.stage_kind': 'Вид',
  'board.stage_required': 'Обязательные поля', 'board.add': 'Добавить', 'board.kind.open': 'в работе', 'board.kind.won': 'успех',
  'board.kind.lost': 'провал', 'board.kind.closed': 'закрыт',
  'presence.available': 'На линии', 'presence.away': 'Отошёл', 'presence.offline': 'Не в сети',
  'presence.break': 'Перерыв', 'presence.lunch': 'Обед', 'presence.training': 'Обучение',
  'presence.reason': 'причина: {reason}',
  'conn.lost': 'Нет связи с сервером — переподключаемся…',
  'search.placeholder': 'Поиск клиентов и заявок', 'search.go': 'Найти',
  'leads.mine': 'Мои заявки', 'leads.found': 'Найдено: {q}', 'leads.none': 'Заявок нет.', 'leads.back': 'К моим заявкам',
  'leads.unassigned': 'Без исполнителя', 'leads.take': 'Взять',
  'work.empty': 'Выберите заявку или примите входящую.',
  'incoming.title': 'Входящие', 'incoming.none': 'Входящих нет.',
  'offer.title': 'Новое обращение: {channel}', 'offer.accept': 'Принять', 'offer.decline': 'Отклонить',
  'offer.expires': 'осталось {seconds} с', 'offer.expired': 'время вышло', 'offer.queue': 'Очередь: {queue}',
  'call.ringing': 'Входящий звонок', 'call.answered': 'Идёт разговор', 'call.ended': 'Звонок завершён',
  'call.missed': 'Пропущенный звонок', 'call.talk': 'разговор {duration}', 'call.did': 'номер {did}',
  'call.open': 'Открыть заявку', 'call.dismiss': 'Скрыть', 'call.start': 'Позвонить',
  'call.outgoing': 'Звонит ваш телефон: вызов', 'call.transfer': 'переведён от {from}',
  'call.started': 'Звоним на {number}…', 'call.failed': 'Не удалось позвонить: {message}',
  'card.client': 'Клиент', 'card.unknown': 'Неизвестный клиент', 'card.owner': 'Ответственный',
  'card.assignee': 'Исполнитель', 'card.nobody': 'никто', 'card.source': 'Источник',
  'card.open_leads': 'Другие открытые заявки', 'card.timeline': 'История', 'card.no_timeline': 'Сообщений пока нет.',
  'card.identities': 'Контакты', 'card.fields': 'Анкета', 'card.save_fields': 'Сохранить анкету',
  'card.saved': 'Сохранено', 'card.notes': 'Заметки', 'card.save_notes': 'Сохранить заметки', 'card.status': 'Статус',
  'card.attachments': 'Вложения', 'card.lead': 'Заявка №{id}', 'card.subject': 'Тема',
  'status.new': 'Новая', 'status.assigned': 'Назначена', 'status.in_progress': 'В работе',
  'status.won': 'Успех', 'status.lost': 'Отказ', 'status.closed': 'Закрыта',
  'close.lost_reason': 'Причина отказа?', 'close.outcome': 'Итог', 'close.resolved': 'Решено',
  'close.handed_over': 'Передано', 'close.whom': 'Кому передано?', 'close.confirm': 'Подтвердить',
  'close.cancel': 'Отмена',
  'assign.title': 'Назначить', 'assign.me': 'Взять себе', 'assign.go': 'Назначить', 'assign.user_id': 'ID пользователя',
  'assign.unassign': 'Снять',
  'reply.placeholder': 'Ответ клиенту…', 'reply.send': 'Отправить', 'reply.sent': 'Доставлено',
  'reply.failed': 'Не доставлено: {message}', 'reply.sending': 'Отправляем…',
  'dir.inbound': 'клиент', 'dir.outbound': 'мы', 'dir.internal': 'заметка',
  'delivery.sent': 'отправлено', 'delivery.failed': 'не доставлено', 'delivery.pending': 'отправляется',
  'error.generic': 'Ошибка: {message}', 'error.field': '{message}',
  'notify.title': 'Switchboard: {name}',
  'wb.title': 'Табло', 'wb.queues': 'Очереди', 'wb.channels': 'Каналы', 'wb.agents': 'Сотрудники',
  'wb.chart': 'Последний час: ожидают и уровень сервиса', 'wb.updated': 'обновлено {time}',
  'wb.waiting': 'Ожидают', 'wb.reserved': 'Звонит', 'wb.assigned': 'В работе', 'wb.wrapping': 'Постобработка',
  'wb.longest': 'Дольше всех ждёт', 'wb.sl': 'Уровень сервиса', 'wb.available': 'Свободны',
  'wb.eligible': 'Сотрудники', 'wb.occupancy': 'Загрузка', 'wb.free': 'Свободная ёмкость',
  'wb.entered': 'Поступило сегодня', 'wb.assigned_today': 'Принято сегодня', 'wb.abandoned': 'Потеряно сегодня',
  'wb.completed': 'Завершено сегодня', 'wb.avg_accept': 'Среднее время принятия', 'wb.max_accept': 'Макс. время принятия',
  'wb.missed': 'Отклонено / истекло / отозвано', 'wb.by_priority': 'Ожидают по приоритету',
  'wb.by_activity': 'Сотрудники по занятости', 'wb.by_reason': 'Причины отсутствия',
  'wb.channel': 'Канал', 'wb.queue': 'Очередь', 'wb.name': 'Сотрудник', 'wb.presence': 'Статус',
  'wb.activity': 'Занятость', 'wb.load': 'Нагрузка', 'wb.since': 'С', 'wb.handled': 'Принято', 'wb.missed_short': 'Пропущено',
  'wb.sla_at_risk': 'SLA под угрозой', 'wb.sla_breached': 'SLA нарушен',
  'wb.call': 'Текущий звонок', 'wb.callbacks': 'Пропущенные ждут перезвона', 'wb.abandon_rate': 'Доля потерянных',
  'wb.forbidden': 'Табло доступно руководителям, супервизорам и администраторам.',
  'wb.legend_waiting': 'ожидают', 'wb.legend_sl': 'уровень сервиса, %', 'wb.none': '—',
  'channel.form': 'форма', 'channel.email': 'почта', 'channel.voice': 'звонок', 'channel.manual': 'вручную',
  'channel.chat': 'чат', 'channel.telegram': 'Telegram', 'channel.whatsapp': 'WhatsApp', 'channel.viber': 'Viber', 'channel.vk': 'ВКонтакте',
  'activity.idle': 'свободен', 'activity.busy': 'занят', 'activity.on_call': 'разговаривает', 'activity.wrap_up': 'постобработка',
  'activity.offline': 'не в сети', 'activity.away': 'отошёл', 'activity.available': 'на линии', 'activity.break': 'перерыв',
  'activity.lunch': 'обед', 'activity.training': 'обучение',
  'role.operator': 'оператор', 'role.manager': 'менеджер', 'role.supervisor': 'супервизор', 'role.admin': 'администратор',
};

const DICTS = { en, ru };
let localeTag = 'en';
let dict = en;

export function setLocale(tag) {
  const clean = String(tag || 'en').replace('_', '-');
  const lang = clean.slice(0, 2).toLowerCase();
  dict = DICTS[lang] || en;
  localeTag = DICTS[lang] ? clean : 'en';
  document.documentElement.lang = lang in DICTS ? lang : 'en';
}

export const locale = () => localeTag;

export function t(key, vars = {}) {
  const text = dict[key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// A label that may not be in the dictionary (a status, a channel): the dictionary's word or the raw value.
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return (key in dict || key in en) ? t(key) : String(value);
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}
