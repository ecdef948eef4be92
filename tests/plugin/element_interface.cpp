// Dumps the interface of every element of the iptv plugin (properties with type, default and
// flags; pad templates with direction, presence and caps) as stable JSON: the contract snapshot
// kept in schemas/iptv-elements.json, like upstream's docs/gst_plugins_cache.json.
//
// Usage: element_interface > schemas/iptv-elements.json   (run with the test environment)
#include <gst/gst.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace {

std::string value_to_string(const GValue *v) {
  if (G_VALUE_HOLDS_STRING(v)) {
    const char *s = g_value_get_string(v);
    return s ? s : "";
  }
  gchar *s = gst_value_serialize(v);
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

nlohmann::json describe(GstElementFactory *factory) {
  nlohmann::json j;
  j["klass"] = gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS);
  j["rank"] = gst_plugin_feature_get_rank(GST_PLUGIN_FEATURE(factory));
  GstElement *e = gst_element_factory_create(factory, nullptr);
  nlohmann::json props = nlohmann::json::object();
  guint n = 0;
  GParamSpec **specs = g_object_class_list_properties(G_OBJECT_GET_CLASS(e), &n);
  for (guint i = 0; i < n; ++i) {
    GParamSpec *p = specs[i];
    // Only our own properties: inherited ones (name, parent, async-handling, qos...) belong to
    // GStreamer's contract, not ours.
    if (!g_str_has_prefix(g_type_name(p->owner_type), "GstIptv")) continue;
    nlohmann::json pj;
    pj["type"] = g_type_name(p->value_type);
    pj["blurb"] = g_param_spec_get_blurb(p) ? g_param_spec_get_blurb(p) : "";
    pj["readable"] = (p->flags & G_PARAM_READABLE) != 0;
    pj["writable"] = (p->flags & G_PARAM_WRITABLE) != 0;
    pj["mutable"] = (p->flags & GST_PARAM_MUTABLE_PLAYING)  ? "playing"
                    : (p->flags & GST_PARAM_MUTABLE_PAUSED) ? "paused"
                    : (p->flags & GST_PARAM_MUTABLE_READY)  ? "ready"
                                                            : "null";
    const GValue *def = g_param_spec_get_default_value(p);
    if (p->value_type != GST_TYPE_STRUCTURE) pj["default"] = value_to_string(def);
    if (G_IS_PARAM_SPEC_ENUM(p)) {
      GEnumClass *ec = G_PARAM_SPEC_ENUM(p)->enum_class;
      nlohmann::json values = nlohmann::json::array();
      for (guint k = 0; k < ec->n_values; ++k) values.push_back(ec->values[k].value_nick);
      pj["values"] = values;
    }
    props[p->name] = pj;
  }
  g_free(specs);
  j["properties"] = props;
  nlohmann::json pads = nlohmann::json::array();
  for (const GList *l = gst_element_factory_get_static_pad_templates(factory); l; l = l->next) {
    auto *t = static_cast<GstStaticPadTemplate *>(l->data);
    GstCaps *caps = gst_static_caps_get(&t->static_caps);
    gchar *cs = gst_caps_to_string(caps);
    pads.push_back({{"name", t->name_template},
                    {"direction", t->direction == GST_PAD_SRC ? "src" : "sink"},
                    {"presence", t->presence == GST_PAD_ALWAYS      ? "always"
                                 : t->presence == GST_PAD_SOMETIMES ? "sometimes"
                                                                    : "request"},
                    {"caps", cs}});
    g_free(cs);
    gst_caps_unref(caps);
  }
  // The registry cache and a freshly loaded plugin list templates in different orders.
  std::sort(pads.begin(), pads.end(),
            [](const nlohmann::json &a, const nlohmann::json &b) { return a["name"] < b["name"]; });
  j["pads"] = pads;
  gst_object_unref(e);
  return j;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  GstPlugin *plugin = gst_registry_find_plugin(gst_registry_get(), "iptv");
  if (!plugin) {
    std::fprintf(stderr, "element_interface: plugin 'iptv' not found (set GST_PLUGIN_PATH)\n");
    return 2;
  }
  std::map<std::string, nlohmann::json> out;
  GList *features = gst_registry_get_feature_list_by_plugin(gst_registry_get(), "iptv");
  for (GList *l = features; l; l = l->next) {
    if (!GST_IS_ELEMENT_FACTORY(l->data)) continue;
    auto *f = GST_ELEMENT_FACTORY(l->data);
    out[gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(f))] = describe(f);
  }
  gst_plugin_feature_list_free(features);
  gst_object_unref(plugin);
  nlohmann::json j(out);
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}
