#pragma once

// [tenants.sources.<kind>]: one feed of one tenant (CONTRACT.md section 2). The keys every feed has are
// read here, with the defaults of the feed's kind; the feed's own keys are read by its kind
// (CollectorKind::read_settings, collector.hpp) into a settings struct of its own.

#include "infra/units.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace c4c::infra {
class ConfigReader;
struct ConfigSection;
}  // namespace c4c::infra

namespace c4c::collectors {

struct CollectorKind;

/// A feed's own settings (the keys only its kind has): any copyable struct with operator==, held by
/// value whatever the kind, so that a reload can tell whether a source's configuration changed.
class SourceSettings {
public:
    SourceSettings() = default;

    template <class T>
    requires(!std::is_same_v<std::decay_t<T>, SourceSettings>) SourceSettings(T settings)
        : m_held(std::make_shared<const Held<std::decay_t<T>>>(std::move(settings)))
    {}

    /// The settings as the kind's struct T; T's defaults when none are held (a SourceConfig built by
    /// hand). Throws std::logic_error when another kind's settings are held (a wiring mistake).
    template <class T>
    const T& get() const
    {
        if (!m_held) {
            static const T k_defaults{};
            return k_defaults;
        }
        if (const auto* held = dynamic_cast<const Held<T>*>(m_held.get())) {
            return held->value;
        }
        throw std::logic_error(std::string("source settings are not of type ") + typeid(T).name());
    }

    /// Equal when both hold equal settings of the same type, or both hold none.
    friend bool operator==(const SourceSettings& a, const SourceSettings& b)
    {
        return a.m_held == b.m_held || (a.m_held && b.m_held && a.m_held->equals(*b.m_held));
    }

private:
    struct Base {
        virtual ~Base() = default;
        virtual bool equals(const Base& other) const = 0;
    };
    template <class T>
    struct Held final : Base {
        explicit Held(T settings) : value(std::move(settings)) {}
        bool equals(const Base& other) const override
        {
            const auto* same = dynamic_cast<const Held*>(&other);
            return same != nullptr && same->value == value;
        }
        T value;
    };

    std::shared_ptr<const Base> m_held;  // immutable, so copies may share it
};

/// One feed of one tenant.
struct SourceConfig {
    std::string name;      ///< its kind's name: config key, metrics label, `sap.c4c.source`
    std::string use_case;  ///< the Cloud ALM endpoint it feeds (its kind's)
    bool enabled = true;
    infra::Duration interval{std::chrono::seconds(60)};
    int page_size = 1000;
    infra::Duration lookback{std::chrono::hours(24)};
    infra::Duration overlap{std::chrono::minutes(2)};
    SourceSettings settings;  ///< the kind's own keys

    friend bool operator==(const SourceConfig&, const SourceConfig&) = default;
};

/// Reads [tenants.sources.<kind.name>]: the keys every feed has (`kind`'s defaults where absent), then
/// the kind's own; any key left over is reported as unknown "for source <name>".
SourceConfig read_source_config(infra::ConfigReader& reader, infra::ConfigSection& section, const CollectorKind& kind);

}  // namespace c4c::collectors
