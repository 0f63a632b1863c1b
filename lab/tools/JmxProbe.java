// A JMX client, as JConsole connects: reads Catalina:type=Server serverInfo from HOST:PORT.
//   java JmxProbe.java [--credentials FILE] HOST PORT [SECONDS]     (default bound 10 s)
// FILE's first line is `USER PASSWORD` (the inventory's jmx_password_file): the password never
// goes on a command line. Without --credentials the probe connects anonymously.
// Exit 0 and the serverInfo on stdout; 1 on a refused/failed connection; 3 when the bound passed
// (a firewall that drops packets makes RMI wait forever without one); 4 when the server refused
// the credentials (or their absence): it answered, and asked for a password.
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
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class JmxProbe {
    public static void main(String[] argv) throws Exception {
        List<String> args = new ArrayList<>(List.of(argv));
        Map<String, Object> env = new HashMap<>();
        if (args.size() >= 2 && args.get(0).equals("--credentials")) {
            String first = Files.readAllLines(Path.of(args.get(1))).stream()
                    .findFirst().orElse("").strip();
            String[] userPassword = first.split("\\s+", 2);
            if (userPassword.length != 2) {
                System.err.println("JmxProbe: " + args.get(1) + ": first line must be `USER PASSWORD`");
                System.exit(2);
            }
            env.put(JMXConnector.CREDENTIALS, userPassword);
            args = args.subList(2, args.size());
        }
        if (args.size() < 2) {
            System.err.println("usage: java JmxProbe.java [--credentials FILE] HOST PORT [SECONDS]");
            System.exit(2);
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
                return (String) c.getMBeanServerConnection()
                        .getAttribute(new ObjectName("Catalina:type=Server"), "serverInfo");
            }
        });
        try {
            System.out.println(info.get(seconds, TimeUnit.SECONDS));
            System.exit(0);
        } catch (TimeoutException e) {
            System.err.println("JmxProbe: no answer from " + where + " within " + seconds + "s");
            System.exit(3);
        } catch (ExecutionException e) {
            System.err.println("JmxProbe: " + where + ": " + e.getCause());
            System.exit(e.getCause() instanceof SecurityException ? 4 : 1);
        }
    }
}
