// A pipeline's commands, kept as the RESP bytes they are sent as: each add() encodes its
// arguments straight into one buffer, so building a request costs no string per argument and
// sending it no second encoding. Both clients write the bytes as they are (redis/request.hpp).
//
//   redis::command_list c;
//   c.add({"LPUSH", key, record}).add({"LTRIM", key, "0", "99"});
//   c.size();  // 2 commands, 2 replies
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace tresse::dispatcher::redis {

class command_list {
 public:
  // The commands of a pipeline given as argument vectors (the clients' older interface).
  static command_list of(const std::vector<std::vector<std::string>>& commands);

  command_list& add(std::initializer_list<std::string_view> argv);
  command_list& add(const std::vector<std::string>& argv);
  command_list& add(const std::vector<std::string_view>& argv);
  command_list& append(const command_list& more);  // `more`'s commands after these

  std::size_t size() const { return count_; }  // commands, and so replies
  bool empty() const { return count_ == 0; }
  std::string_view resp() const { return resp_; }

 private:
  template <class Range>
  void encode(const Range& argv, std::size_t n);

  std::string resp_;
  std::size_t count_ = 0;
};

}  // namespace tresse::dispatcher::redis
