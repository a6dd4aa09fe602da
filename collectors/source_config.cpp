#include "collectors/source_config.hpp"

#include "collectors/collector.hpp"
#include "infra/config_reader.hpp"

namespace c4c::collectors {

SourceConfig read_source_config(infra::ConfigReader& reader, infra::ConfigSection& section, const CollectorKind& kind)
{
    using namespace infra::checks;
    SourceConfig source;
    source.name = kind.name;
    source.use_case = kind.use_case;
    source.interval = kind.defaults.interval;
    source.page_size = kind.defaults.page_size;
    source.lookback = kind.defaults.lookback;
    source.overlap = kind.defaults.overlap;
    reader.read(section, "enabled", source.enabled);
    reader.read(section, "interval", source.interval, positive);
    reader.read<std::int64_t>(section, "page_size", source.page_size, in_range(1, 10000));
    reader.read(section, "lookback", source.lookback, positive);
    reader.read(section, "overlap", source.overlap);
    if (kind.read_settings != nullptr) {
        source.settings = kind.read_settings(reader, section);
    }
    reader.finish(section, " for source " + source.name);
    return source;
}

}  // namespace c4c::collectors
