# Every dependency comes from Debian 12 packages (see ./run for the package names).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS url)
find_package(OpenSSL 3.0 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog 1.10 REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)  # Debian ships no version file (1.0.1)
find_package(pugixml 1.13 REQUIRED)
find_package(SQLite3 3.40 REQUIRED)
find_package(tomlplusplus 3.3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
# Whole-buffer gzip for Cloud ALM bodies: twice zlib's speed at level 1 (exporters/batcher.cpp).
pkg_check_modules(LIBDEFLATE REQUIRED IMPORTED_TARGET libdeflate)
# The outbox's one compression of each chunk (infra/outbox_chunks.cpp): ISA-L's igzip at level 1 is three
# times libdeflate's level 1 on our payloads, at the same size (bench/README.md, issue 16).
pkg_check_modules(LIBISAL REQUIRED IMPORTED_TARGET libisal)
find_package(doctest 2.4 REQUIRED)

# Asio with coroutines, Beast, no deprecated Asio names.
add_library(c4c_boost INTERFACE)
target_link_libraries(c4c_boost INTERFACE Boost::headers Boost::url Threads::Threads)
target_compile_definitions(c4c_boost INTERFACE BOOST_ASIO_NO_DEPRECATED)
