#include "tests/fakes/c4c_data.hpp"

#include "tests/fakes/http_util.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace c4c::sim {

namespace {

constexpr std::int64_t k_twelve_hours_ms = 12LL * 3600 * 1000;
constexpr std::int64_t k_ticks_per_ms = 10'000;

const std::vector<std::string> k_interfaces = {
    "ProductMasterReplicationIn", "SalesOrderRequestOut",        "BusinessPartnerReplicationIn",
    "OpportunityReplicationOut",  "ServiceRequestReplicationIn", "EmployeeReplicationIn",
};
const std::vector<std::string> k_systems = {"MKT_CLOUD", "S4H_CLNT200", "ERP_PRD_100", "SFSF_HR"};

struct FailureNote {
    const char* type_id;
    const char* note;
};
// Notes carry XML special characters on purpose: the parser must unescape them.
const std::vector<FailureNote> k_failures = {
    {"SRT/014", "Mapping error: field <CustomerID> is empty & no default"},
    {"SRT/102", "Receiver \"S4H_CLNT200\" not reachable: HTTP 503 <Service Unavailable>"},
    {"BP/301", "Value 'ZZ' for <CountryCode> is invalid & was rejected"},
    {"", "Duplicate key: object 4711 already exists in target system"},
};
const std::vector<std::string> k_warnings = {
    "Business partner role could not be determined; default used",
    "Field <Region> truncated to 3 characters",
};

}  // namespace

const std::vector<CollectionKind>& collection_kinds()
{
    static const std::vector<CollectionKind> kinds = {
        {"OpportunityCollection",
         "Opportunity",
         "Opportunity",
         false,
         true,
         false,
         {{"1", "Open"}, {"2", "In Process"}, {"3", "Won"}, {"4", "Lost"}, {"5", "Stopped"}}},
        {"SalesOrderCollection",
         "SalesOrder",
         "Sales Order",
         false,
         true,
         false,
         {{"1", "Open"}, {"2", "In Process"}, {"3", "Completed"}, {"4", "Cancelled"}}},
        {"LeadCollection",
         "Lead",
         "Lead",
         false,
         false,
         true,
         {{"1", "Open"}, {"2", "Qualified"}, {"3", "Accepted"}, {"4", "Declined"}, {"5", "Converted"}}},
        {"ServiceRequestCollection",
         "ServiceRequest",
         "Ticket",
         true,
         false,
         false,
         {{"1", "Open"}, {"2", "In Process"}, {"3", "Completed"}, {"4", "Closed"}, {"5", "Customer Action"}}},
    };
    return kinds;
}

const std::vector<std::pair<std::string, std::string>>& rta_components()
{
    static const std::vector<std::pair<std::string, std::string>> components = {
        {"COD_SRQ_AGENT_TI", "Ticket"}, {"COD_SEOD_OPPORTUNITY_TI", "Opportunity"},
        {"COD_LEAD_TI", "Lead"},        {"COD_SALESORDER_TI", "Sales Order"},
        {"COD_ACCOUNT_TI", "Account"},  {"COD_HOME", "Home"},
    };
    return components;
}

const std::vector<std::string>& user_names()
{
    static const std::vector<std::string> users = {"ANNA.MUELLER", "KENJI.SATO", "PRIYA.RAO",    "OLIVIA.BROWN",
                                                   "LUCAS.MARTIN", "JOHN.SMITH", "MARIE.DUBOIS", "CARLOS.GARCIA"};
    return users;
}

const std::vector<std::string>& company_names()
{
    // Non-ASCII, quotes, ampersands and apostrophes on purpose (JSON and XML escaping).
    static const std::vector<std::string> companies = {"ACME Corp.",
                                                       "Nakamura K.K.",
                                                       "\xC3\x98stergaard A/S",
                                                       "M\xC3\xBCller & S\xC3\xB6hne GmbH",
                                                       "O'Brien \"Quality\" Ltd.",
                                                       "Global Tech Inc.",
                                                       "Caf\xC3\xA9 Lumi\xC3\xA8re SARL",
                                                       "Sharma Industries"};
    return companies;
}

const std::vector<std::string>& currency_codes()
{
    static const std::vector<std::string> currencies = {"EUR", "USD", "GBP", "JPY"};
    return currencies;
}

const char* message_status_text(int status)
{
    switch (status) {
    case 1:
        return "Waiting";
    case 2:
        return "In Process";
    case 3:
        return "Successful";
    case 4:
        return "Failed";
    case 5:
        return "Cancelled";
    default:
        return "Unknown";
    }
}

const std::vector<std::uint32_t>& Collection::by_change()
{
    if (m_dirty) {
        rebuild();
    }
    return m_by_change;
}

const std::vector<std::uint32_t>& Collection::by_object_id()
{
    if (m_dirty) {
        rebuild();
    }
    return m_by_object_id;
}

void Collection::rebuild()
{
    m_by_change.resize(m_objects.size());
    std::iota(m_by_change.begin(), m_by_change.end(), 0U);
    m_by_object_id = m_by_change;
    const auto& objects = m_objects;
    std::sort(m_by_change.begin(), m_by_change.end(), [&](std::uint32_t a, std::uint32_t b) {
        const auto& x = objects[a];
        const auto& y = objects[b];
        if (x.change_ms != y.change_ms) {
            return x.change_ms < y.change_ms;
        }
        return x.object_id < y.object_id;
    });
    std::sort(m_by_object_id.begin(), m_by_object_id.end(),
              [&](std::uint32_t a, std::uint32_t b) { return objects[a].object_id < objects[b].object_id; });
    m_dirty = false;
}

World::World(const WorldOptions& options) : m_rng(options.seed), m_clock_offset_ms(options.clock_offset_ms)
{
    const std::int64_t now = tenant_ms();
    const auto& kinds = collection_kinds();
    m_collections.reserve(kinds.size());
    for (const auto& kind : kinds) {
        m_collections.emplace_back(kind);
        m_next_id.push_back(1001);
    }
    for (std::size_t c = 0; c < kinds.size(); ++c) {
        m_collections[c].objects().reserve(options.objects);
        for (std::size_t i = 0; i < options.objects; ++i) {
            auto offset = static_cast<std::int64_t>(uniform(1, k_twelve_hours_ms));
            add_object(c, now - offset, now);
        }
    }
    auto& opportunities = m_collections[0].objects();
    std::size_t same = std::min(options.same_instant, opportunities.size());
    if (same > 0) {
        std::int64_t instant = now - static_cast<std::int64_t>(uniform(k_twelve_hours_ms / 4, k_twelve_hours_ms / 2));
        for (std::size_t i = 0; i < same; ++i) {
            opportunities[i].change_ms = instant;
            m_bo_history[i].change_ms = instant;  // opportunities are generated first
        }
    }

    const std::int64_t now_t = now * k_ticks_per_ms;
    for (std::size_t i = 0; i < options.messages; ++i) {
        std::int64_t last_change = 0;
        if (i > 0 && uniform(0, 9) == 0) {
            last_change = m_messages.back().last_change_ticks;  // same instant as another message
        } else {
            last_change = now_t - static_cast<std::int64_t>(uniform(1, k_twelve_hours_ms * k_ticks_per_ms));
        }
        auto creation =
            last_change - static_cast<std::int64_t>(uniform(0, 10 * 60 * 1000) * k_ticks_per_ms + uniform(0, 9999));
        m_messages.push_back(make_message(creation, last_change));
        auto roll = uniform(0, 99);
        auto& m = m_messages.back();
        int status = roll < 15 ? 4 : roll < 30 ? 1 : roll < 40 ? 2 : roll < 45 ? 5 : 3;
        finish_message(m, status);
        m_message_history.push_back({static_cast<std::uint32_t>(m_messages.size() - 1), m.last_change_ticks, m.status});
    }

    const std::int64_t now_s = now / 1000;
    for (std::size_t i = 0; i < options.rta_rows; ++i) {
        m_rta.push_back(make_rta_row(now_s - static_cast<std::int64_t>(uniform(0, 50 * 60 - 1))));
    }
    std::sort(m_rta.begin(), m_rta.end(), [](const RtaRow& a, const RtaRow& b) {
        return a.timestamp_s != b.timestamp_s ? a.timestamp_s < b.timestamp_s : a.step_id < b.step_id;
    });
}

Collection* World::find_collection(std::string_view name)
{
    for (auto& c : m_collections) {
        if (c.kind().name == name) {
            return &c;
        }
    }
    return nullptr;
}

std::uint64_t World::uniform(std::uint64_t lo, std::uint64_t hi)
{
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(m_rng);
}

std::string World::random_hex(std::string_view prefix, std::size_t length)
{
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out(prefix);
    while (out.size() < length) {
        out += k_hex[uniform(0, 15)];
    }
    return out;
}

const char* malformed_name(Malformed malformed)
{
    switch (malformed) {
    case Malformed::none:
        return "";
    case Malformed::no_key:
        return "no_key";
    case Malformed::bad_time:
        return "bad_time";
    }
    return "";
}

std::optional<Malformed> parse_malformed(std::string_view name)
{
    for (Malformed m : {Malformed::no_key, Malformed::bad_time}) {
        if (name == malformed_name(m)) {
            return m;
        }
    }
    return std::nullopt;
}

void World::add_object(std::size_t collection, std::int64_t change_ms, std::int64_t now, Malformed malformed)
{
    auto& coll = m_collections[collection];
    const auto& kind = coll.kind();
    BusinessObject o;
    auto key = random_hex("00163E", 32);
    std::memcpy(o.object_id.data(), key.data(), o.object_id.size());
    o.id = m_next_id[collection]++;
    o.change_ms = change_ms;
    o.creation_ms = std::min(change_ms, now) - static_cast<std::int64_t>(uniform(0, 30LL * 24 * 3600 * 1000));
    o.amount = static_cast<std::uint32_t>(uniform(500, 250000));
    o.status = static_cast<std::uint8_t>(uniform(0, kind.statuses.size() - 1));
    o.company = static_cast<std::uint8_t>(uniform(0, company_names().size() - 1));
    o.created_by = static_cast<std::uint8_t>(uniform(0, user_names().size() - 1));
    o.last_changed_by =
        uniform(0, 1) == 0 ? o.created_by : static_cast<std::uint8_t>(uniform(0, user_names().size() - 1));
    o.priority = static_cast<std::uint8_t>(uniform(1, 4));
    o.currency = static_cast<std::uint8_t>(uniform(0, currency_codes().size() - 1));
    o.has_external_id = uniform(0, 4) == 0;
    o.malformed = malformed;
    coll.objects().push_back(o);
    coll.touch();
    m_bo_history.push_back({static_cast<std::uint8_t>(collection),
                            static_cast<std::uint32_t>(coll.objects().size() - 1), o.change_ms, o.status});
}

std::int64_t World::tenant_ticks() const
{
    return now_ticks() + m_clock_offset_ms * k_ticks_per_ms;
}

void World::change_business_objects(Collection* only, std::size_t count, std::size_t add, Malformed added)
{
    const std::int64_t now = tenant_ms();
    for (std::size_t c = 0; c < m_collections.size(); ++c) {
        auto& coll = m_collections[c];
        if (only != nullptr && only != &coll) {
            continue;
        }
        auto& objects = coll.objects();
        std::vector<std::uint32_t> picked;
        std::size_t n = std::min(count, objects.size());
        while (picked.size() < n) {
            auto i = static_cast<std::uint32_t>(uniform(0, objects.size() - 1));
            if (std::find(picked.begin(), picked.end(), i) == picked.end()) {
                picked.push_back(i);
            }
        }
        for (auto i : picked) {
            auto& o = objects[i];
            auto statuses = coll.kind().statuses.size();
            o.status = static_cast<std::uint8_t>((o.status + uniform(1, statuses - 1)) % statuses);
            o.last_changed_by = static_cast<std::uint8_t>(uniform(0, user_names().size() - 1));
            // A new state always gets a new change time, even within one millisecond.
            o.change_ms = std::max(now, o.change_ms + 1);
            m_bo_history.push_back({static_cast<std::uint8_t>(c), i, o.change_ms, o.status});
        }
        for (std::size_t k = 0; k < add; ++k) {
            add_object(c, now, now, added);
        }
        coll.touch();
    }
}

Message World::make_message(std::int64_t creation_ticks, std::int64_t last_change_ticks)
{
    Message m;
    m.id = random_hex("FA163E", 32);
    m.creation_ticks = creation_ticks;
    m.last_change_ticks = last_change_ticks;
    m.direction = static_cast<int>(uniform(1, 2));
    m.interface_name = k_interfaces[uniform(0, k_interfaces.size() - 1)];
    const auto& other = k_systems[uniform(0, k_systems.size() - 1)];
    m.sender = m.direction == 1 ? other : "C4C";
    m.receiver = m.direction == 1 ? "C4C" : other;
    return m;
}

void World::finish_message(Message& m, int status)
{
    m.status = status;
    m.log.clear();
    if (status == 4) {
        const auto& f = k_failures[uniform(0, k_failures.size() - 1)];
        m.log.push_back({f.type_id, 3, f.note});
        m.log.push_back({"", 1, "Message was processed by inbound agent"});
    } else if (status == 3 && uniform(0, 4) == 0) {
        m.log.push_back({"", 2, k_warnings[uniform(0, k_warnings.size() - 1)]});
    }
}

void World::change_messages(std::size_t count, std::size_t add, Malformed added)
{
    const std::int64_t now = tenant_ticks();
    for (std::size_t k = 0; k < add; ++k) {
        m_messages.push_back(make_message(now, now));
        m_messages.back().malformed = added;
        auto roll = uniform(0, 9);
        finish_message(m_messages.back(), roll < 4 ? 1 : roll < 6 ? 4 : 3);
        m_message_history.push_back({static_cast<std::uint32_t>(m_messages.size() - 1), now, m_messages.back().status});
    }
    for (std::size_t k = 0; k < count; ++k) {
        Message* target = nullptr;
        std::size_t index = 0;
        for (int wanted : {1, 2}) {
            std::vector<std::size_t> candidates;
            for (std::size_t i = 0; i < m_messages.size(); ++i) {
                if (m_messages[i].status == wanted) {
                    candidates.push_back(i);
                }
            }
            if (!candidates.empty()) {
                index = candidates[uniform(0, candidates.size() - 1)];
                target = &m_messages[index];
                break;
            }
        }
        if (target == nullptr) {
            break;
        }
        finish_message(*target, target->status == 1 && uniform(0, 2) == 0 ? 2 : uniform(0, 2) == 0 ? 4 : 3);
        target->last_change_ticks = std::max(now, target->last_change_ticks + 1);
        m_message_history.push_back({static_cast<std::uint32_t>(index), target->last_change_ticks, target->status});
    }
}

RtaRow World::make_rta_row(std::int64_t timestamp_s)
{
    RtaRow r;
    r.step_id = random_hex("0A1B2C", 32);
    r.timestamp_s = timestamp_s;
    r.user = static_cast<std::uint8_t>(uniform(0, user_names().size() - 1));
    r.component = static_cast<std::uint8_t>(uniform(0, rta_components().size() - 1));
    r.server_ms = static_cast<std::uint32_t>(uniform(50, 2000));
    r.network_ms = static_cast<std::uint32_t>(uniform(5, 400));
    r.client_ms = static_cast<std::uint32_t>(uniform(50, 900));
    r.alternate_format = uniform(0, 1) == 1;
    return r;
}

void World::add_rta_rows(std::size_t add, const std::string& zone, Malformed added)
{
    const std::int64_t now_s = tenant_ms() / 1000;
    for (std::size_t k = 0; k < add; ++k) {
        auto row = make_rta_row(now_s);
        row.zone = zone;
        row.malformed = added;
        auto pos = std::upper_bound(m_rta.begin(), m_rta.end(), row, [](const RtaRow& a, const RtaRow& b) {
            return a.timestamp_s != b.timestamp_s ? a.timestamp_s < b.timestamp_s : a.step_id < b.step_id;
        });
        m_rta.insert(pos, std::move(row));
    }
}

void World::tick()
{
    change_business_objects(nullptr, 3, 1);
    change_messages(1, 2);
    add_rta_rows(5);
}

}  // namespace c4c::sim
