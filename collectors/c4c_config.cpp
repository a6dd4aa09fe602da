#include "collectors/c4c_config.hpp"

#include "infra/config_reader.hpp"

namespace c4c::collectors {

C4cConfig read_c4c_config(infra::ConfigReader& reader, infra::ConfigSection& section)
{
    using namespace infra::checks;
    C4cConfig c4c;
    reader.require(section, {"url", "user"});
    reader.read(section, "url", c4c.url, http_url(QueryRule::forbidden));
    while (c4c.url.ends_with('/')) {
        c4c.url.pop_back();
    }
    reader.read(section, "user", c4c.user, not_empty);
    reader.read_secret(section, "password", c4c.password);
    reader.read_ca_file(section, c4c.ca_file);
    reader.read(section, "timeout", c4c.timeout, positive);
    reader.read<std::int64_t>(section, "max_connections", c4c.max_connections, in_range(1, 64));
    reader.finish(section);
    return c4c;
}

}  // namespace c4c::collectors
