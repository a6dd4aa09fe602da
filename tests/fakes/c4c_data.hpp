#pragma once

// The simulated C4C tenant's data: business objects in four collections, web-service messages and
// Response Time Analysis rows, generated deterministically from a seed and changed over time. Every
// state a record ever had is kept in a history so that tests can check that each one was delivered.
// Not thread-safe: used from the simulator's single event-loop thread.

#include "tests/fakes/http_util.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c4c::sim {

struct CollectionKind {
    std::string name;           ///< "OpportunityCollection"
    std::string entity;         ///< "Opportunity" (OData type c4codata.<entity>)
    std::string label;          ///< "Opportunity", "Ticket", ... (in Name)
    bool ticket = false;        ///< ServiceRequest* status fields, priority, processing type
    bool has_amount = false;    ///< AmountValue / CurrencyCode
    bool offset_dates = false;  ///< EntityLastChangedOn/ETag as /Date(ms+0000)/
    std::vector<std::pair<std::string, std::string>> statuses;  ///< code, text
};

/// The four collections the simulator serves, in a fixed order.
const std::vector<CollectionKind>& collection_kinds();

using ObjectKey = std::array<char, 32>;

/// A record the tenant sends damaged, for the daemon's quarantine (POST /_sim/change "malformed"). The
/// simulator still files it under its key and time; only the answer leaves the key out or spoils the time.
enum class Malformed : std::uint8_t {
    none,
    no_key,    ///< sent without ObjectID / BusinessDocumentMessageID
    bad_time,  ///< EntityLastChangedOn / LastChangeDateTime / CTIMESTAMP sent as text no parser reads
};
/// "no_key", "bad_time" ("" for none); parse_malformed() reads them back (nullopt for anything else).
const char* malformed_name(Malformed malformed);
std::optional<Malformed> parse_malformed(std::string_view name);

struct BusinessObject {
    ObjectKey object_id{};  ///< 32 uppercase hex digits
    std::uint32_t id = 0;   ///< business number, "1001", ...
    std::int64_t creation_ms = 0;
    std::int64_t change_ms = 0;  ///< EntityLastChangedOn
    std::uint32_t amount = 0;
    std::uint8_t status = 0;  ///< index into CollectionKind::statuses
    std::uint8_t company = 0;
    std::uint8_t created_by = 0;
    std::uint8_t last_changed_by = 0;
    std::uint8_t priority = 0;
    std::uint8_t currency = 0;
    bool has_external_id = false;
    Malformed malformed = Malformed::none;
    std::string_view key() const { return {object_id.data(), object_id.size()}; }
};

class Collection {
public:
    explicit Collection(const CollectionKind& kind) : m_kind(&kind) {}
    const CollectionKind& kind() const { return *m_kind; }
    std::vector<BusinessObject>& objects() { return m_objects; }
    const std::vector<BusinessObject>& objects() const { return m_objects; }
    /// Indexes into objects() sorted by (change_ms, object_id), rebuilt after changes.
    const std::vector<std::uint32_t>& by_change();
    /// Indexes into objects() sorted by object_id.
    const std::vector<std::uint32_t>& by_object_id();
    void touch() { m_dirty = true; }

private:
    void rebuild();
    const CollectionKind* m_kind;
    std::vector<BusinessObject> m_objects;
    std::vector<std::uint32_t> m_by_change;
    std::vector<std::uint32_t> m_by_object_id;
    bool m_dirty = true;
};

struct LogItem {
    std::string type_id;  ///< may be empty
    int severity = 1;     ///< 1 information, 2 warning, 3 error
    std::string note;
};

struct Message {
    std::string id;                      ///< BusinessDocumentMessageID
    std::int64_t creation_ticks = 0;     ///< 100 ns since the epoch
    std::int64_t last_change_ticks = 0;  ///< 100 ns since the epoch
    int status = 1;                      ///< ProcessingStatusCode 1..5
    int direction = 1;
    std::string interface_name;
    std::string sender;
    std::string receiver;
    std::vector<LogItem> log;
    Malformed malformed = Malformed::none;
};
const char* message_status_text(int status);

struct RtaRow {
    std::string step_id;  ///< CSTEP_ID (also ID)
    std::int64_t timestamp_s = 0;
    std::uint8_t user = 0;
    std::uint8_t component = 0;
    std::uint32_t server_ms = 0;
    std::uint32_t network_ms = 0;
    std::uint32_t client_ms = 0;
    bool alternate_format = false;          ///< which key figures are strings
    std::string zone;                       ///< SAP time-zone code CTIMESTAMP is shown in; "" for the display zone
    Malformed malformed = Malformed::none;  ///< bad_time only
};

/// UI components of RTA rows: CUI_COMPONENT, TUI_COMPONENT.
const std::vector<std::pair<std::string, std::string>>& rta_components();
const std::vector<std::string>& user_names();
const std::vector<std::string>& company_names();
const std::vector<std::string>& currency_codes();

struct BusinessObjectState {
    std::uint8_t collection = 0;
    std::uint32_t index = 0;
    std::int64_t change_ms = 0;
    std::uint8_t status = 0;
};
struct MessageState {
    std::uint32_t index = 0;
    std::int64_t last_change_ticks = 0;
    int status = 0;
};

struct WorldOptions {
    std::uint64_t seed = 1;
    std::size_t objects = 50;
    std::size_t messages = 40;
    std::size_t rta_rows = 100;
    std::size_t same_instant = 0;
    std::int64_t clock_offset_ms = 0;  ///< the tenant's clock minus the host's
};

class World {
public:
    explicit World(const WorldOptions& options);

    std::vector<Collection>& collections() { return m_collections; }
    /// nullptr when unknown.
    Collection* find_collection(std::string_view name);
    const std::vector<Message>& messages() const { return m_messages; }
    /// Sorted by (timestamp_s, step_id).
    const std::vector<RtaRow>& rta_rows() const { return m_rta; }

    /// The tenant's clock: the host's moved by the offset. Every time the tenant stamps (changes, new
    /// rows, the `Date` header) is read from it.
    std::int64_t clock_offset_ms() const { return m_clock_offset_ms; }
    void set_clock_offset_ms(std::int64_t offset) { m_clock_offset_ms = offset; }
    std::int64_t tenant_ms() const { return now_ms() + m_clock_offset_ms; }
    /// 100 ns ticks on the tenant's clock.
    std::int64_t tenant_ticks() const;

    /// Changes `count` random objects (new status, EntityLastChangedOn = now) and adds `add` new ones,
    /// in `only` or in every collection when `only` is nullptr.
    void change_business_objects(Collection* only, std::size_t count, std::size_t add,
                                 Malformed added = Malformed::none);
    /// Adds `add` messages; moves `count` waiting (else in-process) messages to a final status.
    void change_messages(std::size_t count, std::size_t add, Malformed added = Malformed::none);
    /// Adds `add` rows stamped now, shown in SAP time-zone code `zone` ("" for the display zone).
    void add_rta_rows(std::size_t add, const std::string& zone = {}, Malformed added = Malformed::none);
    /// One --change-every step: 3 changed + 1 new object per collection, 2 new messages and 1
    /// changed, 5 new RTA rows.
    void tick();

    const std::vector<BusinessObjectState>& business_object_history() const { return m_bo_history; }
    const std::vector<MessageState>& message_history() const { return m_message_history; }

private:
    std::string random_hex(std::string_view prefix, std::size_t length);
    std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi);  ///< inclusive
    void add_object(std::size_t collection, std::int64_t change_ms, std::int64_t now,
                    Malformed malformed = Malformed::none);
    Message make_message(std::int64_t creation_ticks, std::int64_t last_change_ticks);
    void finish_message(Message& m, int status);
    RtaRow make_rta_row(std::int64_t timestamp_s);

    std::mt19937_64 m_rng;
    std::int64_t m_clock_offset_ms = 0;
    std::vector<Collection> m_collections;
    std::vector<std::uint32_t> m_next_id;
    std::vector<Message> m_messages;
    std::vector<RtaRow> m_rta;
    std::vector<BusinessObjectState> m_bo_history;
    std::vector<MessageState> m_message_history;
};

}  // namespace c4c::sim
