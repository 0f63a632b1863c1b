package sakailab;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The configuration as Sakai 2.4's SpringCompMgr assembled it: the defaults shipped in the war
 * (org/sakaiproject/config/sakai.properties), then ${sakai.home}sakai.properties, then
 * ${sakai.home}local.properties, each later file overriding the earlier ones.
 */
final class Config {
    private static final Log LOG = Log.get("org.sakaiproject.component.impl.SpringCompMgr");
    private final Properties props = new Properties();
    final String sakaiHome;

    private Config(String sakaiHome) {
        this.sakaiHome = sakaiHome;
    }

    static Config load() throws IOException {
        // Sakai: -Dsakai.home, else ${catalina.home}/sakai/ (here the base, which holds sakai/).
        String home = System.getProperty("sakai.home", System.getProperty("catalina.base") + "/sakai/");
        if (!home.endsWith("/")) {
            home = home + "/";
        }
        Config config = new Config(home);
        try (InputStream in = Config.class.getResourceAsStream("/org/sakaiproject/config/sakai.properties")) {
            config.props.load(in);
        }
        for (String name : new String[] {"sakai.properties", "local.properties"}) {
            Path file = Path.of(home + name);
            if (Files.isReadable(file)) {
                try (Reader in = Files.newBufferedReader(file, java.nio.charset.StandardCharsets.ISO_8859_1)) {
                    config.props.load(in);
                }
                LOG.info("loaded properties file: " + file);
            }
        }
        return config;
    }

    String get(String key, String fallback) {
        String value = props.getProperty(key);
        return value == null || value.isBlank() ? fallback : value.trim();
    }

    boolean getBoolean(String key) {
        return Boolean.parseBoolean(get(key, "false"));
    }

    int getInt(String key, int fallback) {
        try {
            return Integer.parseInt(get(key, String.valueOf(fallback)));
        } catch (NumberFormatException e) {
            LOG.warn("not a number: " + key + "=" + get(key, "") + ", using " + fallback);
            return fallback;
        }
    }

    /** serverId, which Sakai sets to the host name when sakai.properties leaves it out. */
    String serverId() {
        try {
            return get("serverId", InetAddress.getLocalHost().getHostName());
        } catch (UnknownHostException e) {
            // The name does not resolve (no /etc/hosts entry): the kernel still knows it.
            try {
                return get("serverId", Files.readString(Path.of("/proc/sys/kernel/hostname")).trim());
            } catch (IOException notLinux) {
                return get("serverId", "localhost");
            }
        }
    }
}
