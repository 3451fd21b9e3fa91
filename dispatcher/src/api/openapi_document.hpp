// The Management API's OpenAPI 3.1 document (dispatcher/api/openapi.json), embedded at build
// time.
#pragma once

#include <string_view>

namespace tresse::dispatcher::api {

std::string_view openapi_document();

}  // namespace tresse::dispatcher::api
