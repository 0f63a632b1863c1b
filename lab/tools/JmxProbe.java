// A JMX client, as JConsole connects: reads Catalina:type=Server serverInfo from HOST:PORT.
//   java JmxProbe.java [--ca PEM | --tls] [--credentials FILE] [--write] HOST PORT [SECONDS]
// (default bound 10 s). FILE's first line is `USER PASSWORD` (the inventory's jmx_password_file):
// the password never goes on a command line. Without --credentials the probe connects
// anonymously.
// --ca PEM: over TLS (registry and RMI server, as jmxremote.registry.ssl and jmxremote.ssl ask),
// trusting only the CA certificates in PEM; --tls: over TLS, trusting the JDK's own CAs. Without
// either, in clear (only to prove that the server refuses it).
// --write: then try a write (set java.lang:type=Memory Verbose to what it is): a read-only role
// is refused it (exit 4).
// Exit 0 and the serverInfo on stdout; 1 on a refused/failed connection; 3 when the bound passed
// (a firewall that drops packets makes RMI wait forever without one); 4 when the server refused
// the credentials (or their absence, or the write): it answered, and said no.
// Several probes in one JVM (one start, not one each): their arguments joined by `+`, as in
//   java JmxProbe --ca PEM --credentials FILE HOST PORT + --ca PEM HOST PORT
// Each probe then prints one line, `probe N exit RC: WHAT` (its serverInfo or its error, line
// breaks made spaces), in order, and the JVM exits 0 once all have answered.
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import javax.management.Attribute;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.rmi.ssl.SslRMIClientSocketFactory;

public class JmxProbe {
    public static void main(String[] argv) throws Exception {
        List<List<String>> probes = new ArrayList<>(List.of(new ArrayList<>()));
        for (String arg : argv) {
            if (arg.equals("+")) {
                probes.add(new ArrayList<>());
            } else {
                probes.get(probes.size() - 1).add(arg);
            }
        }
        if (probes.size() == 1) {
            String[] said = new String[1];
            int rc = probe(probes.get(0), said);
            (rc == 0 ? System.out : System.err).println(said[0]);
            System.exit(rc);
        }
        for (int i = 0; i < probes.size(); i++) {
            String[] said = new String[1];
            int rc = probe(probes.get(i), said);
            // One line each, whatever the server said: no serverInfo can write another probe's.
            String what = String.valueOf(said[0]).replaceAll("[\\r\\n]+", " ");
            System.out.println("probe " + (i + 1) + " exit " + rc + ": " + what);
        }
        System.exit(0);
    }

    /** One probe: its exit status, and in said[0] the serverInfo or what went wrong. */
    static int probe(List<String> args, String[] said) throws Exception {
        Map<String, Object> env = new HashMap<>();
        if (args.size() >= 2 && args.get(0).equals("--ca")) {
            SSLContext.setDefault(trusting(Path.of(args.get(1))));
            args = args.subList(2, args.size());
            env.put("com.sun.jndi.rmi.factory.socket", new SslRMIClientSocketFactory());
        } else if (args.size() >= 1 && args.get(0).equals("--tls")) {
            args = args.subList(1, args.size());
            env.put("com.sun.jndi.rmi.factory.socket", new SslRMIClientSocketFactory());
        }
        if (args.size() >= 2 && args.get(0).equals("--credentials")) {
            String first = Files.readAllLines(Path.of(args.get(1))).stream()
                    .findFirst().orElse("").strip();
            String[] userPassword = first.split("\\s+", 2);
            if (userPassword.length != 2) {
                said[0] = "JmxProbe: " + args.get(1) + ": first line must be `USER PASSWORD`";
                return 2;
            }
            env.put(JMXConnector.CREDENTIALS, userPassword);
            args = args.subList(2, args.size());
        }
        boolean write = !args.isEmpty() && args.get(0).equals("--write");
        if (write) {
            args = args.subList(1, args.size());
        }
        if (args.size() < 2) {
            said[0] = "usage: java JmxProbe.java [--ca PEM | --tls] [--credentials FILE]"
                    + " [--write] HOST PORT [SECONDS] [+ PROBE ...]";
            return 2;
        }
        String where = args.get(0) + ":" + args.get(1);
        int seconds = args.size() > 2 ? Integer.parseInt(args.get(2)) : 10;
        System.setProperty("sun.rmi.transport.tcp.responseTimeout", String.valueOf(seconds * 1000));
        System.setProperty("sun.rmi.transport.proxy.connectTimeout", String.valueOf(seconds * 1000));
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + where + "/jmxrmi");
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        Future<String> info = pool.submit(() -> {
            try (JMXConnector c = JMXConnectorFactory.connect(url, env)) {
                MBeanServerConnection mbeans = c.getMBeanServerConnection();
                String serverInfo = (String) mbeans.getAttribute(
                        new ObjectName("Catalina:type=Server"), "serverInfo");
                if (write) {
                    ObjectName memory = new ObjectName("java.lang:type=Memory");
                    Object verbose = mbeans.getAttribute(memory, "Verbose");
                    mbeans.setAttribute(memory, new Attribute("Verbose", verbose));
                }
                return serverInfo;
            }
        });
        try {
            said[0] = info.get(seconds, TimeUnit.SECONDS);
            return 0;
        } catch (TimeoutException e) {
            said[0] = "JmxProbe: no answer from " + where + " within " + seconds + "s";
            return 3;
        } catch (ExecutionException e) {
            said[0] = "JmxProbe: " + where + ": " + e.getCause();
            return e.getCause() instanceof SecurityException ? 4 : 1;
        } finally {
            pool.shutdownNow();
        }
    }

    /** TLS that trusts the CA certificates of a PEM file and nothing else. */
    static SSLContext trusting(Path pem) throws Exception {
        KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
        trusted.load(null, null);
        try (InputStream in = Files.newInputStream(pem)) {
            int i = 0;
            for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trusted.setCertificateEntry("ca" + i++, cert);
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trusted);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }
}
