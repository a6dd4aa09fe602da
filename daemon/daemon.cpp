// orchestration: see daemon.hpp
